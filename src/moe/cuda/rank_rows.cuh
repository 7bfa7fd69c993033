#pragma once
// The row kernels the GPU's expert/tensor-parallel layers (ep, tp) need around the exchanges:
// each rank's weighted sum of expert rows in float, the shared expert gate, and the output in
// the layer dtype. The sum adds rows with atomics: its order, and so its last bits, may differ
// from run to run; the check against the fp64 reference does not depend on it.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.hpp"

namespace moebench {

// acc[token[i]] += weight[i] * y[i] for n rows; y [n][H] in `dtype`, acc [.][H] float.
void accumulate_rows(const void* y, const int32_t* token, const float* weight, int64_t n, int64_t hidden, DType dtype,
                     float* acc, cudaStream_t stream);
// weights[t * per_token + j] = sigmoid(x[t] . gate) for j < per_token: Qwen2-MoE's shared
// expert gate, one weight per expanded row of token t.
void shared_gate_weights(const void* x, const void* gate, int64_t tokens, int64_t hidden, DType dtype, int per_token,
                         float* weights, cudaStream_t stream);
// out[i] = acc[i] rounded to `dtype`, for `count` elements.
void round_to_dtype(const float* acc, int64_t count, DType dtype, void* out, cudaStream_t stream);

}  // namespace moebench
