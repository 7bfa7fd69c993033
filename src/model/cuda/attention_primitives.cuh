#pragma once
// What the prefill and decode attention kernels share: the shape check, 16-byte cp.async with
// zero fill, 16-bit packing for the tensor cores, and the quad reductions of the online softmax.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "backend/cuda_check.hpp"
#include "backend/cuda_device_math.cuh"  // half_bits, warp_sum
#include "core/errors.hpp"
#include "model/cuda/attention.cuh"

namespace moebench {

// log2(e): both kernels run the softmax in base 2 (ex2.approx is one MUFU op; expf is two).
constexpr float kLog2e = 1.4426950408889634f;

// The shape both kernels accept; throws InputError naming what is wrong.
inline void check_attention_shape(const AttentionShape& s, const char* who) {
  const std::string w = who;
  if (s.head_dim != 64 && s.head_dim != 128)
    throw InputError(w + ": head_dim " + std::to_string(s.head_dim) + " is not supported (64 or 128)");
  if (s.batch < 1 || s.num_kv_heads < 1 || s.num_heads < 1 || s.max_context < 1)
    throw InputError(w + ": batch, num_heads, num_kv_heads and max_context must be >= 1");
  if (s.num_heads % s.num_kv_heads != 0)
    throw InputError(w + ": num_heads (" + std::to_string(s.num_heads) + ") must be a multiple of num_kv_heads (" +
                     std::to_string(s.num_kv_heads) + ")");
  if (!(s.softmax_scale > 0.0f)) throw InputError(w + ": softmax_scale must be > 0 (usually 1/sqrt(head_dim))");
}
inline void check_attention_dtype(DType dtype, const char* who) {
  if (dtype != DType::bf16 && dtype != DType::fp16)
    throw InputError(std::string(who) + ": dtype " + dtype_name(dtype) + " is not supported (bf16 or fp16)");
}

// Raises `kernel`'s dynamic shared-memory limit to `bytes` on the current device, once per
// device (the attribute is per device; with tensor parallelism one process drives several).
inline void raise_smem_limit_once(const void* kernel, int bytes, std::atomic<uint64_t>& devices_done) {
  int device = 0;
  MB_CUDA_CHECK(cudaGetDevice(&device));
  const uint64_t bit = uint64_t(1) << (device & 63);
  if (devices_done.load() & bit) return;
  MB_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
  devices_done.fetch_or(bit);
}

// Two floats as one register of two 16-bit values of T (__nv_bfloat16 or __half), `lo` in the
// low half (the lower k index of a tensor-core fragment); round to nearest even.
template <typename T>
__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) {
  uint32_t bits;
  if constexpr (std::is_same_v<T, __half>) {
    const __half2 v = __floats2half2_rn(lo, hi);
    memcpy(&bits, &v, 4);
  } else {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    memcpy(&bits, &v, 4);
  }
  return bits;
}

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, bypassing L1; with `valid` false nothing is read and the 16 bytes
// are zero-filled (rows past the sequence: zero K and V keep 0 * garbage out of the sums).
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// The four lanes of a quad hold one accumulator row of an m16n8 (or m64nN) fragment.
__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// The running maximum as an exponent offset: a row that has seen only masked keys keeps
// max = -inf, and exp2(-inf - (-inf)) would be NaN; offsetting by 0 instead gives exp2(-inf) = 0.
__device__ __forceinline__ float softmax_offset(float running_max) {
  return running_max == -INFINITY ? 0.0f : running_max;
}

// One online-softmax step of one accumulator row: folds the tile's raw maximum (this thread's
// columns; reduced over the quad here) into the running maximum, rescales the running sum, and
// returns the exponent offset for this tile's P = exp2(S * scale_log2 - offset) and the factor
// by which the caller rescales its output accumulators.
struct SoftmaxStep {
  float offset;
  float correction;
};
__device__ __forceinline__ SoftmaxStep online_softmax_step(float tile_max, float scale_log2, float& row_max,
                                                           float& row_sum) {
  const float new_max = fmaxf(row_max, quad_max(tile_max) * scale_log2);
  const float offset = softmax_offset(new_max);
  const float correction = fast_exp2(row_max - offset);
  row_max = new_max;
  row_sum *= correction;
  return {offset, correction};
}

}  // namespace moebench
