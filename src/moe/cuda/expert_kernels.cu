#include "moe/cuda/expert_kernels.cuh"

#include <algorithm>

#include "backend/cuda_check.hpp"
#include "moe/activation.hpp"
#include "moe/cuda/gated_layout.cuh"

namespace moebench {

namespace {

__device__ int64_t bounded_rows(int64_t rows, const int32_t* device_rows) {
  return device_rows ? min(rows, int64_t(*device_rows)) : rows;
}

__global__ void gated_activation_vec_kernel(Activation activation, const uint4* h, int64_t rows,
                                            const int32_t* device_rows, int64_t inter, DType dtype, uint4* act) {
  const int64_t vecs = inter / 8;
  const int64_t total = bounded_rows(rows, device_rows) * vecs;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / vecs, v = i % vecs;
    uint4 g = h[r * 2 * vecs + v], u = h[r * 2 * vecs + vecs + v];
    const uint16_t* gh = reinterpret_cast<const uint16_t*>(&g);
    const uint16_t* uh = reinterpret_cast<const uint16_t*>(&u);
    uint4 result;
    uint16_t* o = reinterpret_cast<uint16_t*>(&result);
#pragma unroll
    for (int e = 0; e < 8; ++e)
      o[e] = float_to_half_bits(
          gated_activation<float>(activation, half_bits_to_float(gh[e], dtype), half_bits_to_float(uh[e], dtype)), dtype);
    act[i] = result;
  }
}

__global__ void gated_activation_scalar_kernel(Activation activation, const uint16_t* h, int64_t rows,
                                               const int32_t* device_rows, int64_t inter, DType dtype, uint16_t* act) {
  const int64_t total = bounded_rows(rows, device_rows) * inter;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / inter, c = i % inter;
    float g = half_bits_to_float(h[r * 2 * inter + c], dtype), u = half_bits_to_float(h[r * 2 * inter + inter + c], dtype);
    act[i] = float_to_half_bits(gated_activation<float>(activation, g, u), dtype);
  }
}

// One block per output row; 16-byte vectors.
__global__ void interleave_gate_up_kernel(const uint4* w13, uint4* out, int64_t inter, int64_t row_vecs) {
  const int64_t out_row = blockIdx.x, expert = out_row / (2 * inter);
  const GatedColumn column = gated_column(out_row % (2 * inter));
  const int64_t src_row = expert * 2 * inter + (column.up ? inter : 0) + column.output;
  for (int64_t v = threadIdx.x; v < row_vecs; v += blockDim.x) out[out_row * row_vecs + v] = w13[src_row * row_vecs + v];
}

cudaDataType_t cuda_type(DType dtype) { return dtype == DType::fp16 ? CUDA_R_16F : CUDA_R_16BF; }

}  // namespace

void launch_gated_activation(Activation activation, const void* h, int64_t rows, int64_t inter, DType dtype,
                             void* act, cudaStream_t stream, const int32_t* device_rows) {
  if (rows == 0) return;
  const bool vec = inter % 8 == 0;
  const int64_t work = vec ? rows * inter / 8 : rows * inter;
  unsigned grid = unsigned(std::min<int64_t>((work + 255) / 256, 65535));
  if (vec)
    gated_activation_vec_kernel<<<grid, 256, 0, stream>>>(activation, static_cast<const uint4*>(h), rows, device_rows,
                                                          inter, dtype, static_cast<uint4*>(act));
  else
    gated_activation_scalar_kernel<<<grid, 256, 0, stream>>>(activation, static_cast<const uint16_t*>(h), rows,
                                                             device_rows, inter, dtype, static_cast<uint16_t*>(act));
  MB_CUDA_CHECK_LAUNCH();
}

void interleave_gate_up(const void* w13, void* out, int64_t experts, int64_t inter, int64_t hidden,
                        cudaStream_t stream) {
  if (experts == 0) return;
  interleave_gate_up_kernel<<<unsigned(experts * 2 * inter), 128, 0, stream>>>(
      static_cast<const uint4*>(w13), static_cast<uint4*>(out), inter, hidden / 8);
  MB_CUDA_CHECK_LAUNCH();
}

void gemm_rows(cublasHandle_t handle, const void* x, const void* w, void* out, int64_t m, int64_t n, int64_t k,
               DType dtype, bool out_fp32, float beta) {
  if (m == 0) return;
  const float alpha = 1.0f;
  // Column-major view: out^T [N][M] = w [N][K] . x^T.
  MB_CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, int(n), int(m), int(k), &alpha, w, cuda_type(dtype),
                               int(k), x, cuda_type(dtype), int(k), &beta, out,
                               out_fp32 ? CUDA_R_32F : cuda_type(dtype), int(n), CUBLAS_COMPUTE_32F,
                               CUBLAS_GEMM_DEFAULT));
}

}  // namespace moebench
