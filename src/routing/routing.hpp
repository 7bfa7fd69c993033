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

// Routes router logits [num_tokens][num_experts] the way `model` does. This is THE selection
// rule: every backend (the GPU router included) must copy it exactly, so that all of them pick
// the same experts for the same logits. All arithmetic is float (IEEE binary32, no fast-math).
//
// Order. "a ranks above b" means score[a] > score[b], or score[a] == score[b] and a < b (ties
// go to the lower expert id; groups likewise to the lower group id). A NaN score ranks as
// -infinity. The top_k outputs of a token are listed best first in this order.
//
// softmax (Mixtral, Qwen2/3-MoE, gpt-oss):
//   selection score = the raw logit (softmax is monotone; selecting on logits avoids
//     differences in exp rounding between devices). n_group / topk_group are not used.
//   weight_j = p_j with p = softmax over all E logits: m = max_e l_e,
//     p_e = expf(l_e - m) / sum_e expf(l_e - m); then, when norm_topk_prob,
//     weight_j = p_j / sum_{chosen} p; finally weight_j *= float(routed_scaling_factor).
// sigmoid (DeepSeek-V3, Kimi-K2, GLM-4-MoE, MiniMax-M2):
//   s_e = 1.0f / (1.0f + expf(-l_e)); selection score = s_e + bias[e] (bias empty: + 0).
//   When n_group > 1 (groups of G = E / n_group consecutive experts): a group's score is the
//     sum of its two highest selection scores (its only one when G == 1); the best topk_group
//     groups are kept, and the top_k experts are chosen among the experts of kept groups.
//   weight_j = s_j of the chosen expert (unbiased); when norm_topk_prob,
//     weight_j = s_j / (sum_{chosen} s + 1e-20f); finally weight_j *= float(routed_scaling_factor).
// Sums over the chosen experts run in output order; the softmax denominator runs over e = 0..E-1.
// Only sigmoid selection depends on a computed value (expf, which may differ by an ulp between
// devices); bench/verify.hpp leaves such near-ties out. `bias` is [num_experts] or empty.
Routing route(const ModelConfig& model, const float* logits, int64_t num_tokens,
              const std::vector<float>& bias);

// Tokens assigned to each expert.
std::vector<int64_t> expert_loads(const Routing& r);

struct LoadStats {
  int64_t max_load = 0;
  int64_t min_load = 0;
  double avg_load = 0;        // num_tokens * top_k / num_experts
  double max_imbalance = 0;   // max_load / avg_load (0 for an empty batch)
  int unused_experts = 0;     // experts that received no token
  int active_experts = 0;     // experts that received at least one token
  std::vector<int64_t> expert_loads;  // tokens per expert: the report's load heatmap
};

LoadStats load_stats(const Routing& r);

}  // namespace moebench
