#pragma once
// Device helpers for kernels that stream weight rows once from HBM against a few token rows
// (decode-sized batches): the small-batch expert kernels and the skinny GEMM. Weights and token
// rows are read as 16-byte vectors (8 bf16/fp16 elements) and multiplied in fp32; rows must be
// multiples of 8 elements. dot_rows() is the warp-per-row form; block_sums_to_shared() and
// block_total() finish the form where a block's threads split K.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "backend/cuda_device_math.cuh"  // warp_sum, half_bits

namespace moebench {

// Token rows a warp keeps in registers per pass over its weight rows.
constexpr int kStreamTokenBatch = 8;

// 8 elements of a 16-byte vector as floats; Half2 is __nv_bfloat162 or __half2.
template <typename Half2>
__device__ __forceinline__ void to_floats(const uint4& v, float (&f)[8]) {
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

// A block's threads each hold partial sums acc[r][b]; block_sums_to_shared() puts every warp's
// sum of each into partial[warp][r][b] (shared memory) and waits for the block, after which
// block_total(partial, r, b) is the block's sum, added in warp order: deterministic.
template <int kWarpsInBlock, int kR, int kB>
__device__ __forceinline__ void block_sums_to_shared(const float (&acc)[kR][kB],
                                                     float (&partial)[kWarpsInBlock][kR][kB]) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll
  for (int r = 0; r < kR; ++r)
#pragma unroll
    for (int b = 0; b < kB; ++b) {
      const float sum = warp_sum(acc[r][b]);
      if (lane == 0) partial[warp][r][b] = sum;
    }
  __syncthreads();
}

template <int kWarpsInBlock, int kR, int kB>
__device__ __forceinline__ float block_total(const float (&partial)[kWarpsInBlock][kR][kB], int r, int b) {
  float sum = 0.0f;
#pragma unroll
  for (int k = 0; k < kWarpsInBlock; ++k) sum += partial[k][r][b];
  return sum;
}

// acc[j][b] = w_rows[j] . rows[b] for the kW weight rows and b < n (<= kStreamTokenBatch)
// token rows, over `vecs` 16-byte vectors; `row_of(b)` gives token row b. The kW rows stream
// together, so their loads are in flight at once. Every lane gets the sums for b < n.
// (Loading 8 vectors per row and lane before using any was measured slower on an H100:
// gate+up 23 -> 29 us at 1 token, from the registers it takes.)
template <typename Half2, int kW, typename RowOf>
__device__ __forceinline__ void dot_rows(const uint4* const (&w_rows)[kW], int64_t vecs, int n, RowOf row_of,
                                         float (&acc)[kW][kStreamTokenBatch]) {
#pragma unroll
  for (int j = 0; j < kW; ++j)
#pragma unroll
    for (int b = 0; b < kStreamTokenBatch; ++b) acc[j][b] = 0.0f;
#pragma unroll 2
  for (int64_t v = threadIdx.x % 32; v < vecs; v += 32) {
    float w[kW][8];
#pragma unroll
    for (int j = 0; j < kW; ++j) to_floats<Half2>(__ldg(w_rows[j] + v), w[j]);
#pragma unroll
    for (int b = 0; b < kStreamTokenBatch; ++b) {
      if (b >= n) break;
      float a[8];
      to_floats<Half2>(__ldg(row_of(b) + v), a);
#pragma unroll
      for (int j = 0; j < kW; ++j)
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[j][b] += w[j][i] * a[i];
    }
  }
  // n is uniform across the warp: only the rows in use pay for a reduction.
#pragma unroll
  for (int b = 0; b < kStreamTokenBatch; ++b) {
    if (b >= n) break;
#pragma unroll
    for (int j = 0; j < kW; ++j) acc[j][b] = warp_sum(acc[j][b]);
  }
}

}  // namespace moebench
