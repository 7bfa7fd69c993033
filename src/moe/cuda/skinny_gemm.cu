#include "moe/cuda/skinny_gemm.cuh"

#include <algorithm>
#include <string>

#include "backend/cuda_launch.cuh"
#include "core/errors.hpp"
#include "moe/cuda/expert_kernels.cuh"
#include "moe/cuda/weight_stream.cuh"

namespace moebench {

namespace {

constexpr int kWarps = 8;

// Block: kWarps warps x kW consecutive weight rows each; lane b writes token row b's outputs.
template <typename Half2, int kW>
__global__ void __launch_bounds__(kWarps * 32)
    skinny_gemm_kernel(const uint4* x, const uint4* w, void* out, int m, int64_t n, int64_t vecs, bool out_fp32,
                       bool accumulate) {
  wait_for_prior_kernels();
  const int64_t row0 = int64_t(blockIdx.x) * kWarps * kW;
  const int lane = threadIdx.x % 32;
  const int64_t r = row0 + int64_t(threadIdx.x / 32) * kW;
  if (r >= n) return;
  const uint4* rows[kW];
#pragma unroll
  for (int j = 0; j < kW; ++j) rows[j] = w + std::min<int64_t>(r + j, n - 1) * vecs;  // past n: computed, not written
  float acc[kW][kStreamTokenBatch];
  dot_rows<Half2, kW>(rows, vecs, m, [&](int b) { return x + int64_t(b) * vecs; }, acc);
  allow_next_kernels();  // only the stores are left
#pragma unroll
  for (int j = 0; j < kW; ++j) {
    if (r + j >= n) break;
#pragma unroll
    for (int b = 0; b < kStreamTokenBatch; ++b) {
      if (b < m && lane == b) {
        const int64_t i = int64_t(b) * n + r + j;
        if (out_fp32) {
          float* o = static_cast<float*>(out);
          o[i] = accumulate ? o[i] + acc[j][b] : acc[j][b];
        } else {
          static_cast<uint16_t*>(out)[i] = to_half_bits<Half2>(acc[j][b]);
        }
      }
    }
  }
}

template <typename Half2>
void launch(const void* x, const void* w, void* out, int64_t m, int64_t n, int64_t k, bool out_fp32, bool accumulate,
            cudaStream_t stream) {
  auto* xv = static_cast<const uint4*>(x);
  auto* wv = static_cast<const uint4*>(w);
  // Two rows per warp keep more loads in flight where there are rows enough for every SM.
  if (n >= 4096) {
    const unsigned grid = unsigned((n + 2 * kWarps - 1) / (2 * kWarps));
    launch_chained(skinny_gemm_kernel<Half2, 2>, grid, kWarps * 32, 0, stream, xv, wv, out, int(m), n, k / 8, out_fp32,
                   accumulate);
  } else {
    const unsigned grid = unsigned((n + kWarps - 1) / kWarps);
    launch_chained(skinny_gemm_kernel<Half2, 1>, grid, kWarps * 32, 0, stream, xv, wv, out, int(m), n, k / 8, out_fp32,
                   accumulate);
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

bool skinny_gemm_applies(const void* x, const void* w, int64_t m, int64_t k, DType dtype, bool out_fp32, float beta) {
  return (dtype == DType::bf16 || dtype == DType::fp16) && m >= 1 && m <= kSkinnyMaxRows && k % 8 == 0 && aligned16(x) && aligned16(w) &&
         (beta == 0.0f || (out_fp32 && beta == 1.0f));
}

void skinny_gemm(const void* x, const void* w, void* out, int64_t m, int64_t n, int64_t k, DType dtype, bool out_fp32,
                 bool accumulate, cudaStream_t stream) {
  if (m == 0 || n == 0) return;
  if (m > kStreamTokenBatch || k % 8 != 0)
    throw InputError("skinny_gemm takes at most " + std::to_string(kStreamTokenBatch) +
                     " rows and K a multiple of 8");
  if (dtype == DType::bf16)
    launch<__nv_bfloat162>(x, w, out, m, n, k, out_fp32, accumulate, stream);
  else
    launch<__half2>(x, w, out, m, n, k, out_fp32, accumulate, stream);
}

void gemm_rows_or_skinny(cublasHandle_t handle, cudaStream_t stream, const void* x, const void* w, void* out,
                         int64_t m, int64_t n, int64_t k, DType dtype, bool out_fp32, float beta) {
  if (skinny_gemm_applies(x, w, m, k, dtype, out_fp32, beta))
    skinny_gemm(x, w, out, m, n, k, dtype, out_fp32, beta == 1.0f, stream);
  else
    gemm_rows(handle, x, w, out, m, n, k, dtype, out_fp32, beta);
}

}  // namespace moebench
