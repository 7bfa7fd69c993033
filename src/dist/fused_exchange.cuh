#pragma once
// The dispatch and combine of `fused-ep` (moe/cuda/fused_expert_parallel_cuda.cpp): kernels that
// write token rows straight into the peers' symmetric windows (NCCL's device API, nccl_windows.hpp)
// and synchronise with LSA barriers, with no host synchronisation, so the whole layer can be
// recorded as a CUDA graph.
//
// One exchange moves one chunk of each rank's tokens. A slot is (token t of the chunk, choice j),
// slot = t * top_k + j; slot_capacity = chunk * top_k. Every rank's windows are laid out alike:
//   rows      [world][slot_capacity][H]  rank s's slot row, at the ranks of the slot's expert group
//   meta      [world][slot_capacity]     the slot's expert within this rank's group, or -1
//   counts    [world]                    the tokens rank s sent in this chunk
//   returned  [moe_tp][slot_capacity][H] the slot's expert output from moe_tp rank q of its group
// The sender writes rows, meta (to every rank, -1 where the slot does not go) and its count, then
// every CTA syncs on its LSA barrier: when the kernel ends on a rank, every rank has written. The
// receiver orders what arrived by local expert (counts, offsets and rows on the device, for the
// grouped GEMM), and after the experts the rows go back into the sources' `returned` windows at
// their slots, then a barrier again; the source sums them with its routing weights in float, in a
// fixed order. A window is reused by the next chunk only after the barrier that follows its
// readers (the return barrier follows the receive; the next dispatch barrier follows the
// combine), so one set of windows serves every chunk.
#include <cuda_runtime.h>
#include <nccl.h>
#include <nccl_device.h>

#include <cstdint>

#include "core/dtype.hpp"
#include "core/host_device.hpp"

namespace moebench {

struct FusedExchangeShape {
  int world = 1, rank = 0;
  int moe_tp = 1;     // ranks per expert group (each holds a slice of the group's experts)
  int per_group = 1;  // experts per group
  int top_k = 1;
  int64_t hidden = 0;
  int64_t chunk = 0;  // tokens per rank per exchange
  DType dtype = DType::bf16;  // bf16 or fp16: two bytes an element

  MB_HD int64_t slot_capacity() const { return chunk * top_k; }
  MB_HD size_t row_bytes() const { return size_t(hidden) * sizeof(uint16_t); }
  // Bytes of the four windows, in the order above.
  size_t rows_bytes() const { return size_t(world) * size_t(slot_capacity()) * row_bytes(); }
  size_t meta_bytes() const { return size_t(world) * size_t(slot_capacity()) * sizeof(int32_t); }
  size_t counts_bytes() const { return size_t(world) * sizeof(int32_t); }
  size_t returned_bytes() const { return size_t(moe_tp) * size_t(slot_capacity()) * row_bytes(); }
};

struct FusedWindows {
  ncclWindow_t rows, meta, counts, returned;
  void *rows_local, *meta_local, *counts_local, *returned_local;
};

// CTAs of the kernels that sync (each uses LSA barrier blockIdx.x): the device communicator
// needs this many barriers.
constexpr int kFusedExchangeCtas = 32;

// Device counters of one forward, [kFusedStats] int64: rows sent to and received from other ranks.
enum FusedStat { kRowsSent, kRowsReceived, kFusedStats };

// Writes the chunk's `tokens` rows x [tokens][H] (ids [tokens][k]: global expert ids) to their
// experts' ranks, then syncs. Every rank calls it for every chunk, also with tokens = 0.
void fused_dispatch(const ncclDevComm& comm, const FusedWindows& w, const FusedExchangeShape& s, const void* x,
                    const int32_t* ids, int64_t tokens, int64_t* stats, cudaStream_t stream);

// Orders the rows that arrived by local expert: rows [world * slot_capacity][H] (expert order),
// offsets [per_group + 1] (offsets[per_group]: the rows), origin [world * slot_capacity] (each
// row's source rank * slot_capacity + slot). `cursor` [per_group] is workspace.
void fused_receive(const FusedWindows& w, const FusedExchangeShape& s, void* rows, int32_t* offsets,
                   int32_t* cursor, int32_t* origin, int64_t* stats, cudaStream_t stream);

// Sends expert_out's rows (offsets[per_group] of them) back to their sources' `returned`
// windows, at plane moe_tp_rank, then syncs.
void fused_return(const ncclDevComm& comm, const FusedWindows& w, const FusedExchangeShape& s, int moe_tp_rank,
                  const void* expert_out, const int32_t* offsets, const int32_t* origin, cudaStream_t stream);

// out[t] = sum_j weights[t][j] * sum_q returned[q][t * k + j] (+ the shared experts' fp32 output,
// scaled by sigmoid(shared_gate_logits[t]) when given), rounded once to the dtype; t < tokens.
void fused_combine(const FusedWindows& w, const FusedExchangeShape& s, const float* weights, int64_t tokens,
                   const float* shared, const float* shared_gate_logits, void* out, cudaStream_t stream);

}  // namespace moebench
