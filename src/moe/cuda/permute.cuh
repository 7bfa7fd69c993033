#pragma once
// Moving token slots to expert order and back.
//
// A slot is one (token, choice) pair, slot = token * top_k + j. Routing gives each slot an
// expert; `ExpertPermutation` sorts the slots by expert, stably, so the rows of one expert are
// contiguous and in token order, and computes per-expert counts and offsets and the row of
// every slot: in one single-block kernel up to 8192 slots and 256 experts, in three chained
// kernels over chunks of slots above that (up to 256 experts), else with CUB (a radix sort and
// a scan). gather_token_rows() builds the expert-ordered activations (gather_rows() builds them
// row by row, where only the device knows how many rows there are); combine_rows() sums each
// token's expert outputs with its routing weights (fp32, fixed order: deterministic, no
// atomics). No host synchronisation anywhere.
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/backend.hpp"
#include "core/dtype.hpp"

namespace moebench {

class ExpertPermutation {
 public:
  ExpertPermutation(Backend& backend, int num_experts, int top_k, int64_t max_tokens);

  // From ids [T][k] (device): counts, offsets, sorted slots and slot rows.
  void build(const int32_t* ids, int64_t num_tokens, cudaStream_t stream);

  const int32_t* counts() const { return counts_.as<int32_t>(); }         // [E]
  const int32_t* offsets() const { return offsets_.as<int32_t>(); }       // [E+1], offsets[E] = T*k
  const int32_t* sorted_slots() const { return sorted_slots_.as<int32_t>(); }  // [T*k]: row -> slot
  const int32_t* slot_rows() const { return slot_rows_.as<int32_t>(); }   // [T*k]: slot -> row
  int num_experts() const { return num_experts_; }
  int top_k() const { return top_k_; }

 private:
  int num_experts_;
  int top_k_;
  int key_bits_;
  DeviceBuffer counts_, offsets_, keys_sorted_, slot_iota_, sorted_slots_, slot_rows_, temp_;
  DeviceBuffer chunk_counts_, chunk_bases_;  // [chunks][E], the multi-chunk path
  size_t temp_bytes_ = 0;
};

// rows[r] = x[sorted_slots[r] / top_k] for r in [0, num_rows); x and rows are [.][H] of `dtype`.
// When the row count is only known on the device (tile-rounded routing), `device_rows` points
// at it and num_rows is its upper bound.
void gather_rows(const void* x, const int32_t* sorted_slots, int top_k, int64_t num_rows, int64_t hidden,
                 DType dtype, void* rows, cudaStream_t stream, const int32_t* device_rows = nullptr);

// The same rows in token order: rows[slot_rows[t*k+j]] = x[t] for every slot with a row (>= 0).
// Reads each token once, where gather_rows reads it k times (from DRAM once x outgrows the L2).
void gather_token_rows(const void* x, const int32_t* slot_rows, int top_k, int64_t num_tokens, int64_t hidden,
                       void* rows, cudaStream_t stream);

// Expert rows beyond each token's top_k slots (tile-rounded routing adds some), sorted by
// token so that a token's entries are contiguous: entry i adds weights[i] * y[rows[i]] to
// token tokens[i]. Entries past the used ones hold token = num_tokens.
struct ExtraRows {
  const int32_t* tokens = nullptr;
  const int32_t* rows = nullptr;
  const float* weights = nullptr;
  int64_t capacity = 0;
};

// out[t] = sum_j weights[t][j] * y[slot_rows[t*k+j]] over the slots with slot_rows >= 0 (a
// dropped slot has -1), + the token's `extra` rows, + shared_scale[t] * shared[t] when shared
// is given (shared_gate_logits, when given, scale by sigmoid(logit)). y [rows][H] in `dtype`,
// shared [T][H] float. Accumulates in float in a fixed order, rounds once to `dtype`.
void combine_rows(const void* y, const int32_t* slot_rows, const float* weights, int top_k, int64_t num_tokens,
                  int64_t hidden, DType dtype, const float* shared, const float* shared_gate_logits, void* out,
                  cudaStream_t stream, const ExtraRows& extra = {});

}  // namespace moebench
