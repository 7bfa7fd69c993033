#pragma once
// The routing of one batch: which experts each token goes to, with which weights.
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_config.hpp"

namespace moebench {

struct Routing {
  int64_t num_tokens = 0;
  int top_k = 0;
  int num_experts = 0;
  std::vector<int32_t> expert_ids;  // [num_tokens][top_k], token-major
  std::vector<float> weights;       // [num_tokens][top_k], routed_scaling_factor applied
};

// Routes router logits [num_tokens][num_experts] the way `model` does:
//  - softmax: top-k of softmax(logits); renormalised over the k when norm_topk_prob.
//  - sigmoid: scores = sigmoid(logits); selection uses scores + bias (when the model has a
//    score-correction bias) limited to the best `topk_group` of `n_group` groups (a group's
//    score is the sum of its two best biased scores, as DeepSeek-V3 does); the weights are
//    the unbiased scores of the chosen experts, renormalised when norm_topk_prob.
// In both, weights are finally multiplied by routed_scaling_factor. Selection is done in
// float with ties broken towards the lower expert id, exactly as the GPU router does, so
// every backend selects the same experts. `bias` is [num_experts] or empty.
Routing route(const ModelConfig& model, const float* logits, int64_t num_tokens,
              const std::vector<float>& bias);

// Tokens assigned to each expert.
std::vector<int64_t> expert_loads(const Routing& r);

struct LoadStats {
  int64_t max_load = 0;
  int64_t min_load = 0;
  double avg_load = 0;        // num_tokens * top_k / num_experts
  double max_imbalance = 0;   // max_load / avg_load
  int unused_experts = 0;     // experts that received no token
  int active_experts = 0;     // experts that received at least one token
};

LoadStats load_stats(const Routing& r);

}  // namespace moebench
