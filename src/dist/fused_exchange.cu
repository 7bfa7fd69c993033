// The fused exchange's kernels (fused_exchange.cuh).
#include <algorithm>

#include <cuda/atomic>

#include "backend/cuda_check.hpp"
#include "dist/fused_exchange.cuh"

namespace moebench {

namespace {

constexpr int kThreads = 512;  // per CTA of the syncing kernels: 16 warps
constexpr int kWarpSize = 32;

// Copies one row of `bytes` bytes with the lanes of a warp: 16-byte words when both ends and
// the size allow it (every row of a hidden size that is a multiple of 8), 2-byte elements else.
__device__ void copy_row(void* dst, const void* src, size_t bytes, int lane) {
  if (bytes % 16 == 0 && reinterpret_cast<uintptr_t>(dst) % 16 == 0 && reinterpret_cast<uintptr_t>(src) % 16 == 0) {
    uint4* d = static_cast<uint4*>(dst);
    const uint4* s = static_cast<const uint4*>(src);
    for (size_t i = size_t(lane); i < bytes / 16; i += kWarpSize) d[i] = s[i];
  } else {
    uint16_t* d = static_cast<uint16_t*>(dst);
    const uint16_t* s = static_cast<const uint16_t*>(src);
    for (size_t i = size_t(lane); i < bytes / 2; i += kWarpSize) d[i] = s[i];
  }
}

// Every CTA of every rank meets here; writes before it are visible to every rank's next kernel.
__device__ void sync_ranks(const ncclDevComm& comm) {
  ncclLsaBarrierSession<ncclCoopCta> barrier(ncclCoopCta(), comm, ncclTeamTagLsa(), blockIdx.x);
  barrier.sync(ncclCoopCta(), cuda::memory_order_acq_rel);
}

__global__ void __launch_bounds__(kThreads) dispatch_kernel(ncclDevComm comm, FusedWindows w, FusedExchangeShape s,
                                                            const char* x, const int32_t* ids, int64_t tokens,
                                                            unsigned long long* stats) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warp = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarpSize;
  const int64_t warps = int64_t(gridDim.x) * blockDim.x / kWarpSize;
  const int64_t cap = s.slot_capacity(), slots = tokens * s.top_k;
  const size_t row = s.row_bytes();
  if (blockIdx.x == 0)
    for (int d = threadIdx.x; d < s.world; d += blockDim.x)
      *static_cast<int32_t*>(ncclGetLsaPointer(w.counts, size_t(s.rank) * sizeof(int32_t), d)) = int32_t(tokens);
  unsigned long long sent = 0;
  for (int64_t slot = warp; slot < slots; slot += warps) {
    const int e = ids[slot];
    const int group = e / s.per_group, local = e - group * s.per_group;
    const size_t at = size_t(s.rank) * size_t(cap) + size_t(slot);
    for (int d = lane; d < s.world; d += kWarpSize)
      *static_cast<int32_t*>(ncclGetLsaPointer(w.meta, at * sizeof(int32_t), d)) = d / s.moe_tp == group ? local : -1;
    const char* src = x + size_t(slot / s.top_k) * row;
    for (int q = 0; q < s.moe_tp; ++q) {
      const int d = group * s.moe_tp + q;
      copy_row(ncclGetLsaPointer(w.rows, at * row, d), src, row, lane);
      sent += d != s.rank;
    }
  }
  if (lane == 0 && sent) atomicAdd(stats + kRowsSent, sent);
  sync_ranks(comm);
}

// Rows that arrived, per local expert.
__global__ void count_kernel(FusedExchangeShape s, const int32_t* meta, const int32_t* counts, int32_t* histogram) {
  const int64_t cap = s.slot_capacity(), n = int64_t(s.world) * cap;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t src = i / cap, slot = i % cap;
    if (slot < int64_t(counts[src]) * s.top_k && meta[i] >= 0) atomicAdd(histogram + meta[i], 1);
  }
}

// offsets from the histogram (held in `cursor`), and each expert's cursor at its first row.
__global__ void offsets_kernel(int per_group, int32_t* cursor, int32_t* offsets) {
  if (threadIdx.x != 0) return;
  int32_t sum = 0;
  for (int e = 0; e < per_group; ++e) {
    offsets[e] = sum;
    sum += cursor[e];
    cursor[e] = offsets[e];
  }
  offsets[per_group] = sum;
}

__global__ void scatter_kernel(FusedExchangeShape s, const char* arrived, const int32_t* meta, const int32_t* counts,
                               int32_t* cursor, char* rows, int32_t* origin, unsigned long long* stats) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warp = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarpSize;
  const int64_t warps = int64_t(gridDim.x) * blockDim.x / kWarpSize;
  const int64_t cap = s.slot_capacity(), n = int64_t(s.world) * cap;
  const size_t row = s.row_bytes();
  unsigned long long received = 0;
  for (int64_t i = warp; i < n; i += warps) {
    const int64_t src = i / cap, slot = i % cap;
    if (slot >= int64_t(counts[src]) * s.top_k || meta[i] < 0) continue;
    int32_t r = 0;
    if (lane == 0) r = atomicAdd(cursor + meta[i], 1);
    r = __shfl_sync(0xffffffffu, r, 0);
    copy_row(rows + size_t(r) * row, arrived + size_t(i) * row, row, lane);
    if (lane == 0) origin[r] = int32_t(i);
    if (src != s.rank) ++received;
  }
  if (lane == 0 && received) atomicAdd(stats + kRowsReceived, received);
}

__global__ void __launch_bounds__(kThreads) return_kernel(ncclDevComm comm, FusedWindows w, FusedExchangeShape s,
                                                          int moe_tp_rank, const char* expert_out,
                                                          const int32_t* offsets, const int32_t* origin) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warp = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarpSize;
  const int64_t warps = int64_t(gridDim.x) * blockDim.x / kWarpSize;
  const int64_t cap = s.slot_capacity(), rows = offsets[s.per_group];
  const size_t row = s.row_bytes();
  for (int64_t r = warp; r < rows; r += warps) {
    const int64_t i = origin[r], src = i / cap, slot = i % cap;
    copy_row(ncclGetLsaPointer(w.returned, (size_t(moe_tp_rank) * size_t(cap) + size_t(slot)) * row, int(src)),
             expert_out + size_t(r) * row, row, lane);
  }
  sync_ranks(comm);
}

__global__ void combine_kernel(FusedExchangeShape s, const uint16_t* returned, const float* weights,
                               const float* shared, const float* shared_gate_logits, uint16_t* out) {
  const int64_t t = blockIdx.x, H = s.hidden, cap = s.slot_capacity();
  const float scale = shared_gate_logits ? 1.0f / (1.0f + expf(-shared_gate_logits[t])) : 1.0f;
  for (int64_t c = threadIdx.x; c < H; c += blockDim.x) {
    float acc = 0;
    for (int j = 0; j < s.top_k; ++j) {
      const int64_t slot = t * s.top_k + j;
      float y = 0;
      for (int q = 0; q < s.moe_tp; ++q) y += half_bits_to_float(returned[(q * cap + slot) * H + c], s.dtype);
      acc += weights[slot] * y;
    }
    if (shared) acc += scale * shared[t * H + c];
    out[t * H + c] = float_to_half_bits(acc, s.dtype);
  }
}

int blocks_for(int64_t items, int threads) {
  return int(std::min<int64_t>(std::max<int64_t>((items + threads - 1) / threads, 1), 1024));
}

}  // namespace

void fused_dispatch(const ncclDevComm& comm, const FusedWindows& w, const FusedExchangeShape& s, const void* x,
                    const int32_t* ids, int64_t tokens, int64_t* stats, cudaStream_t stream) {
  dispatch_kernel<<<kFusedExchangeCtas, kThreads, 0, stream>>>(comm, w, s, static_cast<const char*>(x), ids, tokens,
                                                                reinterpret_cast<unsigned long long*>(stats));
  MB_CUDA_CHECK_LAUNCH();
}

void fused_receive(const FusedWindows& w, const FusedExchangeShape& s, void* rows, int32_t* offsets, int32_t* cursor,
                   int32_t* origin, int64_t* stats, cudaStream_t stream) {
  const int64_t n = int64_t(s.world) * s.slot_capacity();
  const auto* meta = static_cast<const int32_t*>(w.meta_local);
  const auto* counts = static_cast<const int32_t*>(w.counts_local);
  MB_CUDA_CHECK(cudaMemsetAsync(cursor, 0, size_t(s.per_group) * sizeof(int32_t), stream));
  count_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(s, meta, counts, cursor);
  MB_CUDA_CHECK_LAUNCH();
  offsets_kernel<<<1, 32, 0, stream>>>(s.per_group, cursor, offsets);
  MB_CUDA_CHECK_LAUNCH();
  scatter_kernel<<<blocks_for(n * kWarpSize, 256), 256, 0, stream>>>(
      s, static_cast<const char*>(w.rows_local), meta, counts, cursor, static_cast<char*>(rows), origin,
      reinterpret_cast<unsigned long long*>(stats));
  MB_CUDA_CHECK_LAUNCH();
}

void fused_return(const ncclDevComm& comm, const FusedWindows& w, const FusedExchangeShape& s, int moe_tp_rank,
                  const void* expert_out, const int32_t* offsets, const int32_t* origin, cudaStream_t stream) {
  return_kernel<<<kFusedExchangeCtas, kThreads, 0, stream>>>(comm, w, s, moe_tp_rank,
                                                              static_cast<const char*>(expert_out), offsets, origin);
  MB_CUDA_CHECK_LAUNCH();
}

void fused_combine(const FusedWindows& w, const FusedExchangeShape& s, const float* weights, int64_t tokens,
                   const float* shared, const float* shared_gate_logits, void* out, cudaStream_t stream) {
  if (tokens == 0) return;
  combine_kernel<<<unsigned(tokens), 256, 0, stream>>>(s, static_cast<const uint16_t*>(w.returned_local), weights,
                                                        shared, shared_gate_logits, static_cast<uint16_t*>(out));
  MB_CUDA_CHECK_LAUNCH();
}

}  // namespace moebench
