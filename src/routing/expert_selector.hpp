#pragma once
// Routing of one token at a time, as routing.hpp specifies: the engine behind route(), and
// what the verifier uses to recompute a token's selection and to see how close it was.
#include <cstdint>
#include <vector>

#include "core/model_config.hpp"

namespace moebench {

class ExpertSelector {
 public:
  // `bias` is [num_experts] or empty. Throws std::invalid_argument for a bias of another size.
  ExpertSelector(const ModelConfig& model, const std::vector<float>& bias);

  // Routes one token: logits [num_experts] -> ids [top_k] best first, weights [top_k].
  void route_token(const float* logits, int32_t* ids, float* weights);

  // For the token last routed: the smallest relative gap at a selection boundary, i.e. between
  // the k-th and (k+1)-th eligible experts' selection scores and, with group-limited routing,
  // between the topk_group-th and next group's scores; |a - b| / max(|a|, |b|). Infinity when
  // there is no boundary (top_k equals the eligible experts, and no groups are dropped).
  double boundary_gap() const { return boundary_gap_; }

 private:
  bool ranks_above(int a, int b) const;  // by score_, ties to the lower id
  void select(const float* logits, int32_t* ids);

  int num_experts_, top_k_;
  ScoringFunc scoring_;
  bool norm_topk_prob_;
  float routed_scaling_factor_;
  int n_group_, topk_group_;
  std::vector<float> bias_;

  std::vector<float> score_;     // selection score per expert
  std::vector<float> sigmoid_;   // s_e (sigmoid scoring only)
  std::vector<int> candidates_;  // experts eligible for the top-k
  std::vector<float> group_score_;
  std::vector<int> groups_;
  double boundary_gap_ = 0;
};

}  // namespace moebench
