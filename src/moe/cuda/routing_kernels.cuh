#pragma once
// Top-k routing on the GPU, selecting exactly as route() (src/routing/routing.hpp) does:
// same scores, same group limit, ties to the lower id, output in descending score order.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/model_config.hpp"

namespace moebench {

struct RouterParams {
  int num_experts = 0;
  int top_k = 0;
  bool sigmoid = false;
  bool norm_topk_prob = true;
  float routed_scaling_factor = 1.0f;
  int n_group = 1;
  int topk_group = 1;
};

RouterParams router_params(const ModelConfig& model);

// logits [T][E] -> ids [T][k], weights [T][k]. bias is [E] or null.
void launch_topk_routing(const RouterParams& p, const float* logits, const float* bias, int64_t num_tokens,
                         int32_t* ids, float* weights, cudaStream_t stream);

}  // namespace moebench
