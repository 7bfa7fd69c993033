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

// Block: kRows consecutive weight rows, kTokens token rows; the block's 256 threads split K,
// each taking every 256th 16-byte vector of all kRows rows, so a thread has kRows loads in
// flight at once and a weight row is a single round trip to HBM for K up to 2048 (a warp
// streaming a whole row alone waits for K / 256 of them one after the other: measured 10-11 us
// for the QKV and O projections of qwen3-30b, 2 TB/s). The partial sums meet in shared memory,
// in warp order. Few registers (one base pointer, the token count fixed) keep 4 blocks per SM,
// so a projection of a few thousand rows is one wave of blocks.
template <typename Half2, int kRows, int kTokens>
__global__ void __launch_bounds__(kThreads, 4)
    skinny_gemm_kernel(const uint4* x, const uint4* w, void* out, int64_t n, int64_t vecs, bool out_fp32,
                       bool accumulate) {
  __shared__ float partial[kThreads / 32][kRows][kTokens];
  const int64_t row0 = int64_t(blockIdx.x) * kRows;
  const uint4* block_rows = w + row0 * vecs;
  const int last = int(std::min<int64_t>(kRows, n - row0)) - 1;  // rows past n: computed, not written
  // A thread's first weight vectors are loaded before the chained wait (no kernel writes
  // weights): at one token row, and in the 2-row shape (fewer than 1024 rows: an MoE router) at
  // two. Where a block is resident before the kernel before it ends (the router's few blocks,
  // the first wave of the QKV projection), that round trip to HBM overlaps it. Measured on an
  // H100 (qwen3-30b-a3b decode TPOT): the router's 3.26 -> 3.24 ms at batch 1 (5.17 -> 5.14 at
  // batch 2), one token's other shapes 3.24 -> 3.23/3.24. The 8-row shape at two tokens spills
  // with it (5.14 -> 5.28 ms at batch 2), hence not there.
  constexpr bool kEarly = kTokens == 1 || kRows == 2;
  uint4 wv[kRows];
  auto load_rows = [&](int64_t v) {
#pragma unroll
    for (int r = 0; r < kRows; ++r) wv[r] = __ldg(block_rows + int64_t(min(r, last)) * vecs + v);
  };
  if (kEarly && threadIdx.x < vecs) load_rows(threadIdx.x);
  wait_for_prior_kernels();
  float acc[kRows][kTokens] = {};
  for (int64_t v = threadIdx.x; v < vecs; v += kThreads) {
    if (!kEarly || v != threadIdx.x) load_rows(v);
    float a[kTokens][8];
#pragma unroll
    for (int b = 0; b < kTokens; ++b) to_floats<Half2>(x[int64_t(b) * vecs + v], a[b]);
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      float wf[8];
      to_floats<Half2>(wv[r], wf);
#pragma unroll
      for (int b = 0; b < kTokens; ++b)
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[r][b] += wf[i] * a[b][i];
    }
  }
  allow_next_kernels();  // only the reductions and stores are left
  block_sums_to_shared(acc, partial);
  if (threadIdx.x < kRows * kTokens) {
    const int r = threadIdx.x / kTokens, b = threadIdx.x % kTokens;
    if (r > last) return;
    const float sum = block_total(partial, r, b);
    const int64_t i = int64_t(b) * n + row0 + r;
    if (out_fp32) {
      float* o = static_cast<float*>(out);
      o[i] = accumulate ? o[i] + sum : sum;
    } else {
      static_cast<uint16_t*>(out)[i] = half_bits<Half2>(sum);
    }
  }
}

template <typename Half2, int kRows, int kTokens>
void launch_shape(const uint4* x, const uint4* w, void* out, int64_t n, int64_t k, bool out_fp32, bool accumulate,
                  cudaStream_t stream) {
  launch_chained(skinny_gemm_kernel<Half2, kRows, kTokens>, unsigned((n + kRows - 1) / kRows), kThreads, 0, stream,
                 x, w, out, n, k / 8, out_fp32, accumulate);
}

template <typename Half2, int kTokens>
void launch_tokens(const uint4* x, const uint4* w, void* out, int64_t n, int64_t k, bool out_fp32, bool accumulate,
                   cudaStream_t stream) {
  // 8 rows per block; 4 where those blocks still fill the GPU once (4 per SM), 2 where 8 would
  // leave SMs without a block. Measured on an H100 (qwen3-30b-a3b decode): the O projection's
  // 2048 rows 8.5 -> 7.2 us with 4 rows (256 -> 512 blocks); 12 rows, to make QKV's 5120 one wave,
  // took it 8.5 -> 9.3 us; 16 rows 10 -> 15 us.
  if (n < 1024)
    launch_shape<Half2, 2, kTokens>(x, w, out, n, k, out_fp32, accumulate, stream);
  else if ((n + 3) / 4 <= 4 * int64_t(current_device_sm_count()))
    launch_shape<Half2, 4, kTokens>(x, w, out, n, k, out_fp32, accumulate, stream);
  else
    launch_shape<Half2, 8, kTokens>(x, w, out, n, k, out_fp32, accumulate, stream);
}

template <typename Half2>
void launch(const void* x, const void* w, void* out, int64_t m, int64_t n, int64_t k, bool out_fp32, bool accumulate,
            cudaStream_t stream) {
  auto* xv = static_cast<const uint4*>(x);
  auto* wv = static_cast<const uint4*>(w);
  if (m == 1)
    launch_tokens<Half2, 1>(xv, wv, out, n, k, out_fp32, accumulate, stream);
  else
    launch_tokens<Half2, 2>(xv, wv, out, n, k, out_fp32, accumulate, stream);
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
