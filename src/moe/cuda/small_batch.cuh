#pragma once
// Expert kernels for decode-sized batches, where the layer is a matter of streaming each routed
// expert's weights once from HBM: no permutation, no gather, no GEMM tiles of padding.
//
// A block takes one routed expert (the first slot that routes to it; later slots with the same
// expert leave) and a slice of its output columns, and computes them for every token routed to
// that expert, so each weight row is read once however many tokens share the expert. One warp
// per weight row: 16-byte loads across the row, fp32 dot products with the tokens' rows (which
// stay in L1/L2: a few KB), a shuffle reduction.
//  - small_batch_gate_up: h[slot][c] = act(w13[e][c] . x[t]) * (w13[e][I + c] . x[t])
//  - small_batch_down:    y[slot][r] = w2[e][r] . h[slot]
// The combine (routing weights, shared experts) is MoeStages::shared_and_combine with slot s in
// row s. Rows of H and I elements must be multiples of 8 (16-byte loads); at most 1024 tokens.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.hpp"
#include "core/model_config.hpp"

namespace moebench {

void small_batch_gate_up(const void* x, const int32_t* ids, int64_t num_slots, int top_k, const void* w13,
                         int64_t hidden, int64_t inter, DType dtype, Activation activation, void* h,
                         cudaStream_t stream);

void small_batch_down(const void* h, const int32_t* ids, int64_t num_slots, int top_k, const void* w2,
                      int64_t hidden, int64_t inter, DType dtype, void* y, cudaStream_t stream);

}  // namespace moebench
