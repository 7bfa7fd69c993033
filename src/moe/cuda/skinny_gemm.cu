#include "moe/cuda/skinny_gemm.cuh"

#include <algorithm>
#include <string>

#include "backend/cuda_launch.cuh"
#include "core/errors.hpp"
#include "moe/cuda/expert_kernels.cuh"
#include "moe/cuda/weight_stream.cuh"

namespace moebench {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxTokens = int(kSkinnyMaxRows);

// Block: kRows consecutive weight rows; the block's 256 threads split K, each taking every
// 256th 16-byte vector of all kRows rows, so a thread has kRows loads in flight at once and a
// weight row is a single round trip to HBM for K up to 2048 (a warp streaming a whole row
// alone waits for K / 256 of them one after the other: measured 10-11 us for the QKV and O
// projections of qwen3-30b, 2 TB/s). The partial sums meet in shared memory, in warp order.
template <typename Half2, int kRows>
__global__ void __launch_bounds__(kThreads)
    skinny_gemm_kernel(const uint4* x, const uint4* w, void* out, int m, int64_t n, int64_t vecs, bool out_fp32,
                       bool accumulate) {
  __shared__ float partial[kThreads / 32][kRows][kMaxTokens];
  wait_for_prior_kernels();
  const int64_t row0 = int64_t(blockIdx.x) * kRows;
  const uint4* rows[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) rows[r] = w + std::min<int64_t>(row0 + r, n - 1) * vecs;  // past n: not written
  float acc[kRows][kMaxTokens] = {};
  for (int64_t v = threadIdx.x; v < vecs; v += kThreads) {
    uint4 wv[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) wv[r] = __ldg(rows[r] + v);
    float a[kMaxTokens][8];
#pragma unroll
    for (int b = 0; b < kMaxTokens; ++b)
      if (b < m) to_floats<Half2>(x[int64_t(b) * vecs + v], a[b]);
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      float wf[8];
      to_floats<Half2>(wv[r], wf);
#pragma unroll
      for (int b = 0; b < kMaxTokens; ++b)
        if (b < m)
#pragma unroll
          for (int i = 0; i < 8; ++i) acc[r][b] += wf[i] * a[b][i];
    }
  }
  allow_next_kernels();  // only the reductions and stores are left
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int b = 0; b < kMaxTokens; ++b)
      if (b < m) {
        const float sum = warp_sum(acc[r][b]);
        if (lane == 0) partial[warp][r][b] = sum;
      }
  __syncthreads();
  for (int t = threadIdx.x; t < kRows * m; t += kThreads) {
    const int r = t / m, b = t % m;
    if (row0 + r >= n) continue;
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < kThreads / 32; ++k) sum += partial[k][r][b];
    const int64_t i = int64_t(b) * n + row0 + r;
    if (out_fp32) {
      float* o = static_cast<float*>(out);
      o[i] = accumulate ? o[i] + sum : sum;
    } else {
      static_cast<uint16_t*>(out)[i] = to_half_bits<Half2>(sum);
    }
  }
}

template <typename Half2, int kRows>
void launch_rows(const uint4* x, const uint4* w, void* out, int64_t m, int64_t n, int64_t k, bool out_fp32,
                 bool accumulate, cudaStream_t stream) {
  launch_chained(skinny_gemm_kernel<Half2, kRows>, unsigned((n + kRows - 1) / kRows), kThreads, 0, stream, x, w, out,
                 int(m), n, k / 8, out_fp32, accumulate);
}

template <typename Half2>
void launch(const void* x, const void* w, void* out, int64_t m, int64_t n, int64_t k, bool out_fp32, bool accumulate,
            cudaStream_t stream) {
  auto* xv = static_cast<const uint4*>(x);
  auto* wv = static_cast<const uint4*>(w);
  // 8 rows per block: 94 registers per thread (ptxas), two blocks per SM; 16 rows, with twice
  // the loads per thread and fewer blocks per SM, took the QKV projection of qwen3-30b to 15 us
  // (measured). 2 rows where 8 would leave SMs without a block (132 on an H100).
  if (n >= 1024)
    launch_rows<Half2, 8>(xv, wv, out, m, n, k, out_fp32, accumulate, stream);
  else
    launch_rows<Half2, 2>(xv, wv, out, m, n, k, out_fp32, accumulate, stream);
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
  if (m > kSkinnyMaxRows || k % 8 != 0)
    throw InputError("skinny_gemm takes at most " + std::to_string(kSkinnyMaxRows) + " rows and K a multiple of 8");
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
