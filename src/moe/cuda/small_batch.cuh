#pragma once
// Expert kernels for decode-sized batches, where the layer is a matter of streaming each routed
// expert's weights once from HBM: no permutation, no gather, no GEMM tiles of padding.
//  - small_batch_gate_up: h[slot][c] = act(w13[e][c] . x[t]) * (w13[e][I + c] . x[t]).
//    A block takes one routed expert (the first slot that routes to it; later slots with the
//    same expert leave) and a slice of its columns, for every token routed to that expert, so
//    each weight row is read once however many tokens share the expert. For one token a block
//    takes a few columns and its threads split the hidden dimension (one round trip to HBM per
//    row); for more, a warp streams a row pair against every token of the expert.
//  - small_batch_down: y[slot][r] = w2[e][r] . h[slot], blocks as in gate_up; the combine is
//    then MoeStages::shared_and_combine with slot s in row s.
//  - small_batch_down_combine (1-2 tokens): out[t][r] = sum over t's slots s of weight[s] *
//    (w2[e_s][r] . h[s]) (+ the shared experts' fp32 rows, scaled by sigmoid of their gate logit
//    when given): the down projection and the weighted combine in one pass. A block takes a few
//    output rows and its threads split the (slot, vector) pairs; the sums run in a fixed order,
//    so the result is deterministic. An expert's row is read once per slot that routes to it:
//    the faster choice at 1-2 tokens, not at 8 (fused.cu).
// 16-byte loads and fp32 sums (moe/cuda/weight_stream.cuh). Rows of H and I elements must be
// multiples of 8; at most kSmallBatchMaxSlots slots. All three launch chained
// (backend/cuda_launch.cuh).
#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.hpp"
#include "core/model_config.hpp"

namespace moebench {

constexpr int64_t kSmallBatchMaxSlots = 1024;

void small_batch_gate_up(const void* x, const int32_t* ids, int64_t num_slots, int top_k, const void* w13,
                         int64_t hidden, int64_t inter, DType dtype, Activation activation, void* h,
                         cudaStream_t stream);

void small_batch_down(const void* h, const int32_t* ids, int64_t num_slots, int top_k, const void* w2,
                      int64_t hidden, int64_t inter, DType dtype, void* y, cudaStream_t stream);

void small_batch_down_combine(const void* h, const int32_t* ids, const float* route_weights, int64_t num_tokens,
                              int top_k, const void* w2, int64_t hidden, int64_t inter, DType dtype,
                              const float* shared, const float* shared_gate_logits, void* out, cudaStream_t stream);

}  // namespace moebench
