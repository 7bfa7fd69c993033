#pragma once
// GEMMs of one or two token rows: out[M][N] = x[M][K] . w[N][K]^T is then a matter of streaming
// w once from HBM, which cuBLAS does with split-K and a second reduction kernel. The skinny GEMM
// does it in one chained launch (backend/cuda_launch.cuh): a block takes a few weight rows and
// its threads split K, so every thread's loads of all those rows are in flight together.
//
// Measured on an H100 in the qwen3-30b-a3b decode step (docs/PERF.md, 2026-11-24): the LM head
// (152k x 2048) at 1 row takes 201 us against cuBLAS's 216 us; at 4 and 8 rows the fp32 FMAs per
// weight vector grow with the rows and cuBLAS's tensor cores win (TPOT 9.65 vs 8.96 ms at batch
// 4, 15.77 vs 13.66 ms at batch 8), hence kSkinnyMaxRows. Prefetching a block's weights into L2
// before the wait gained nothing measurable (4.37 vs 4.34 ms at batch 1) and was dropped.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.hpp"

namespace moebench {

// The most token rows the skinny GEMM takes.
constexpr int64_t kSkinnyMaxRows = 2;

// Whether skinny_gemm takes this problem: bf16 or fp16, 1..kSkinnyMaxRows rows, K a multiple
// of 8, x and w 16-byte aligned, and beta 0 (or 1 with an fp32 output).
bool skinny_gemm_applies(const void* x, const void* w, int64_t m, int64_t k, DType dtype, bool out_fp32, float beta);

// out[M][N] = x[M][K] . w[N][K]^T (+ out when accumulate; fp32 out only), in `dtype`, out in
// `dtype` or fp32, for M up to kSkinnyMaxRows. fp32 accumulation in a fixed order; one rounding.
void skinny_gemm(const void* x, const void* w, void* out, int64_t m, int64_t n, int64_t k, DType dtype, bool out_fp32,
                 bool accumulate, cudaStream_t stream);

// gemm_rows (expert_kernels.cuh) semantics: skinny_gemm where it applies, cuBLAS otherwise.
// `stream` must be the handle's stream.
void gemm_rows_or_skinny(cublasHandle_t handle, cudaStream_t stream, const void* x, const void* w, void* out,
                         int64_t m, int64_t n, int64_t k, DType dtype, bool out_fp32 = false, float beta = 0.0f);

}  // namespace moebench
