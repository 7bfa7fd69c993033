#pragma once
// Device helpers every kernel family shares: a float rounded to the bits of a 16-bit element,
// and warp and block sums.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

namespace moebench {

// f rounded to nearest in T's 16-bit format; T is __half, __nv_bfloat16 or their x2 pairs.
template <typename T>
__device__ __forceinline__ uint16_t half_bits(float f) {
  if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __half2>)
    return __half_as_ushort(__float2half_rn(f));
  else
    return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}

// Sum over the warp; every lane gets it.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024), added in warp order; every
// thread gets it. scratch: blockDim.x / 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  v = warp_sum(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float total = 0;
  for (int w = 0; w < warps; ++w) total += scratch[w];
  return total;
}

}  // namespace moebench
