#pragma once
// The dense pieces of an expert forward: the gated activation over a gate/up projection, and
// row-major GEMMs through cuBLAS in the canonical weight layout.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.hpp"
#include "core/model_config.hpp"

namespace moebench {

// h [M][2I] (gate in columns 0..I-1, up in I..2I-1) -> act [M][I] = activation(gate) * up.
// When the row count is only known on the device, `device_rows` points at it and `rows` is its
// upper bound.
void launch_gated_activation(Activation activation, const void* h, int64_t rows, int64_t inter, DType dtype,
                             void* act, cudaStream_t stream, const int32_t* device_rows = nullptr);

// w13 [E][2I][H] in the canonical layout (gate rows, then up rows) -> out [E][2I][H] in the
// order the gated grouped GEMM epilogue reads it (gated_layout.cuh). I must be a multiple of 64
// and H of 8.
void interleave_gate_up(const void* w13, void* out, int64_t experts, int64_t inter, int64_t hidden,
                        cudaStream_t stream);

// out[M][N] = x[M][K] . w[N][K]^T (+ beta * out). x, w in `dtype`; out in `dtype`, or float
// when out_fp32. Row-major activations, K-contiguous weights: cuBLAS "TN" on the transposes.
void gemm_rows(cublasHandle_t handle, const void* x, const void* w, void* out, int64_t m, int64_t n, int64_t k,
               DType dtype, bool out_fp32 = false, float beta = 0.0f);

}  // namespace moebench
