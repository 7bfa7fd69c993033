// The row kernels of the GPU's ep and tp layers (rank_rows.cuh).
#include <algorithm>

#include "backend/cuda_check.hpp"
#include "moe/cuda/rank_rows.cuh"

namespace moebench {

namespace {

constexpr int kThreads = 256;

__global__ void accumulate_rows_kernel(const uint16_t* y, const int32_t* token, const float* weight, int64_t hidden,
                                       DType dtype, float* acc) {
  const int64_t i = blockIdx.x;
  const float w = weight[i];
  float* dst = acc + int64_t(token[i]) * hidden;
  for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x)
    atomicAdd(dst + c, w * half_bits_to_float(y[i * hidden + c], dtype));
}

__global__ void shared_gate_kernel(const uint16_t* x, const uint16_t* gate, int64_t hidden, DType dtype, int per_token,
                                   float* weights) {
  __shared__ float partial[kThreads];
  const int64_t t = blockIdx.x;
  float dot = 0;
  for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x)
    dot += half_bits_to_float(x[t * hidden + c], dtype) * half_bits_to_float(gate[c], dtype);
  partial[threadIdx.x] = dot;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x < per_token) weights[t * per_token + threadIdx.x] = 1.0f / (1.0f + expf(-partial[0]));
}

__global__ void round_kernel(const float* acc, int64_t count, DType dtype, uint16_t* out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = float_to_half_bits(acc[i], dtype);
}

}  // namespace

void accumulate_rows(const void* y, const int32_t* token, const float* weight, int64_t n, int64_t hidden, DType dtype,
                     float* acc, cudaStream_t stream) {
  if (n == 0) return;
  accumulate_rows_kernel<<<unsigned(n), kThreads, 0, stream>>>(static_cast<const uint16_t*>(y), token, weight,
                                                                  hidden, dtype, acc);
  MB_CUDA_CHECK_LAUNCH();
}

void shared_gate_weights(const void* x, const void* gate, int64_t tokens, int64_t hidden, DType dtype, int per_token,
                         float* weights, cudaStream_t stream) {
  if (tokens == 0) return;
  shared_gate_kernel<<<unsigned(tokens), kThreads, 0, stream>>>(static_cast<const uint16_t*>(x),
                                                               static_cast<const uint16_t*>(gate), hidden, dtype,
                                                               per_token, weights);
  MB_CUDA_CHECK_LAUNCH();
}

void round_to_dtype(const float* acc, int64_t count, DType dtype, void* out, cudaStream_t stream) {
  if (count == 0) return;
  const int64_t blocks = std::min<int64_t>((count + kThreads - 1) / kThreads, 4096);
  round_kernel<<<unsigned(blocks), kThreads, 0, stream>>>(acc, count, dtype, static_cast<uint16_t*>(out));
  MB_CUDA_CHECK_LAUNCH();
}

}  // namespace moebench
