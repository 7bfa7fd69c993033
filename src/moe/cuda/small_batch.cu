#include "moe/cuda/small_batch.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <string>
#include <type_traits>

#include "backend/cuda_check.hpp"
#include "core/errors.hpp"
#include "moe/activation.hpp"

namespace moebench {

namespace {

constexpr int kWarps = 8;          // per block
constexpr int kRowsPerWarp = 2;    // weight rows (output columns) each warp streams
constexpr int kColsPerBlock = kWarps * kRowsPerWarp;
constexpr int kTokenBatch = 8;     // token rows kept in registers per pass over a weight row
constexpr int kMaxSlots = 1024;    // slots a block scans for its expert's tokens (shared memory)

// 8 elements of a 16-byte vector as floats.
template <typename Half2>
__device__ void to_floats(const uint4& v, float (&f)[8]) {
  const Half2* p = reinterpret_cast<const Half2*>(&v);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    float2 t;
    if constexpr (std::is_same_v<Half2, __nv_bfloat162>)
      t = __bfloat1622float2(p[i]);
    else
      t = __half22float2(p[i]);
    f[2 * i] = t.x;
    f[2 * i + 1] = t.y;
  }
}

template <typename Half2>
__device__ uint16_t to_half_bits(float v) {
  if constexpr (std::is_same_v<Half2, __nv_bfloat162>)
    return __bfloat16_as_ushort(__float2bfloat16_rn(v));
  else
    return __half_as_ushort(__float2half_rn(v));
}

__device__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// The slots of this block's expert, if the block's slot is the first to route to it; else 0.
__device__ int expert_slots(const int32_t* ids, int64_t num_slots, int slot, int* slots) {
  __shared__ int count, first;
  const int e = ids[slot];
  if (threadIdx.x == 0) {
    count = 0;
    first = 1;
  }
  __syncthreads();
  for (int s = threadIdx.x; s < slot; s += blockDim.x)
    if (ids[s] == e) first = 0;
  __syncthreads();
  if (!first) return 0;
  if (threadIdx.x == 0)  // in slot order: deterministic, and at most a few hundred slots
    for (int s = slot; s < num_slots; ++s)
      if (ids[s] == e && count < kMaxSlots) slots[count++] = s;
  __syncthreads();
  return count;
}

// acc[j][b] = w_rows[j] . rows[b] for the kW weight rows and b < n token rows, over `vecs`
// 16-byte vectors; `row_of(b)` gives token row b. The kW rows stream together, so their loads
// are in flight at once.
template <typename Half2, int kW, typename RowOf>
__device__ void dot_rows(const uint4* const (&w_rows)[kW], int64_t vecs, int n, RowOf row_of,
                         float (&acc)[kW][kTokenBatch]) {
#pragma unroll
  for (int j = 0; j < kW; ++j)
#pragma unroll
    for (int b = 0; b < kTokenBatch; ++b) acc[j][b] = 0.0f;
#pragma unroll 2
  for (int64_t v = threadIdx.x % 32; v < vecs; v += 32) {
    float w[kW][8];
#pragma unroll
    for (int j = 0; j < kW; ++j) to_floats<Half2>(__ldg(w_rows[j] + v), w[j]);
#pragma unroll
    for (int b = 0; b < kTokenBatch; ++b) {
      if (b >= n) break;
      float a[8];
      to_floats<Half2>(__ldg(row_of(b) + v), a);
#pragma unroll
      for (int j = 0; j < kW; ++j)
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[j][b] += w[j][i] * a[i];
    }
  }
#pragma unroll
  for (int j = 0; j < kW; ++j)
#pragma unroll
    for (int b = 0; b < kTokenBatch; ++b) acc[j][b] = warp_sum(acc[j][b]);
}

template <typename Half2>
__global__ void __launch_bounds__(kWarps * 32) gate_up_kernel(const uint4* x, const int32_t* ids, int64_t num_slots,
                                                              int top_k, const uint4* w13, int64_t hidden,
                                                              int64_t inter, Activation activation, uint16_t* h) {
  __shared__ int slots[kMaxSlots];
  const int n = expert_slots(ids, num_slots, blockIdx.x, slots);
  if (n == 0) return;
  const int e = ids[blockIdx.x], lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t vecs = hidden / 8;
  const uint4* w = w13 + int64_t(e) * 2 * inter * vecs;
  for (int i = 0; i < kRowsPerWarp; ++i) {
    const int64_t c = int64_t(blockIdx.y) * kColsPerBlock + warp * kRowsPerWarp + i;
    if (c >= inter) break;
    const uint4* const rows[2] = {w + c * vecs, w + (inter + c) * vecs};  // gate, up
    for (int base = 0; base < n; base += kTokenBatch) {
      const int nb = min(kTokenBatch, n - base);
      float acc[2][kTokenBatch];
      dot_rows<Half2>(rows, vecs, nb, [&](int b) { return x + int64_t(slots[base + b] / top_k) * vecs; }, acc);
#pragma unroll
      for (int b = 0; b < kTokenBatch; ++b)
        if (b < nb && lane == b)
          h[int64_t(slots[base + b]) * inter + c] =
              to_half_bits<Half2>(gated_activation<float>(activation, acc[0][b], acc[1][b]));
    }
  }
}

template <typename Half2>
__global__ void __launch_bounds__(kWarps * 32) down_kernel(const uint4* h, const int32_t* ids, int64_t num_slots,
                                                           const uint4* w2, int64_t hidden, int64_t inter,
                                                           uint16_t* y) {
  __shared__ int slots[kMaxSlots];
  const int n = expert_slots(ids, num_slots, blockIdx.x, slots);
  if (n == 0) return;
  const int e = ids[blockIdx.x], lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t vecs = inter / 8;
  const uint4* w = w2 + int64_t(e) * hidden * vecs;
  for (int i = 0; i < kRowsPerWarp; ++i) {
    const int64_t r = int64_t(blockIdx.y) * kColsPerBlock + warp * kRowsPerWarp + i;
    if (r >= hidden) break;
    const uint4* const rows[1] = {w + r * vecs};
    for (int base = 0; base < n; base += kTokenBatch) {
      const int nb = min(kTokenBatch, n - base);
      float acc[1][kTokenBatch];
      dot_rows<Half2>(rows, vecs, nb, [&](int b) { return h + int64_t(slots[base + b]) * vecs; }, acc);
#pragma unroll
      for (int b = 0; b < kTokenBatch; ++b)
        if (b < nb && lane == b) y[int64_t(slots[base + b]) * hidden + r] = to_half_bits<Half2>(acc[0][b]);
    }
  }
}

dim3 grid_for(int64_t num_slots, int top_k, int64_t columns) {
  // An expert has at most one slot per token: its slots fit the block's list.
  if (num_slots / top_k > kMaxSlots)
    throw InputError("the small-batch expert kernels take at most " + std::to_string(kMaxSlots) + " tokens");
  return dim3(unsigned(num_slots), unsigned((columns + kColsPerBlock - 1) / kColsPerBlock));
}

}  // namespace

void small_batch_gate_up(const void* x, const int32_t* ids, int64_t num_slots, int top_k, const void* w13,
                         int64_t hidden, int64_t inter, DType dtype, Activation activation, void* h,
                         cudaStream_t stream) {
  if (num_slots == 0) return;
  const dim3 grid = grid_for(num_slots, top_k, inter);
  auto* xv = static_cast<const uint4*>(x);
  auto* wv = static_cast<const uint4*>(w13);
  auto* hv = static_cast<uint16_t*>(h);
  if (dtype == DType::bf16)
    gate_up_kernel<__nv_bfloat162><<<grid, kWarps * 32, 0, stream>>>(xv, ids, num_slots, top_k, wv, hidden, inter,
                                                                      activation, hv);
  else
    gate_up_kernel<__half2><<<grid, kWarps * 32, 0, stream>>>(xv, ids, num_slots, top_k, wv, hidden, inter,
                                                              activation, hv);
  MB_CUDA_CHECK_LAUNCH();
}

void small_batch_down(const void* h, const int32_t* ids, int64_t num_slots, int top_k, const void* w2,
                      int64_t hidden, int64_t inter, DType dtype, void* y, cudaStream_t stream) {
  if (num_slots == 0) return;
  const dim3 grid = grid_for(num_slots, top_k, hidden);
  auto* hv = static_cast<const uint4*>(h);
  auto* wv = static_cast<const uint4*>(w2);
  auto* yv = static_cast<uint16_t*>(y);
  if (dtype == DType::bf16)
    down_kernel<__nv_bfloat162><<<grid, kWarps * 32, 0, stream>>>(hv, ids, num_slots, wv, hidden, inter, yv);
  else
    down_kernel<__half2><<<grid, kWarps * 32, 0, stream>>>(hv, ids, num_slots, wv, hidden, inter, yv);
  MB_CUDA_CHECK_LAUNCH();
}

}  // namespace moebench
