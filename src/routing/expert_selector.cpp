#include "routing/expert_selector.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace moebench {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

double relative_gap(float a, float b) {
  if (a == b) return 0;
  double m = std::max(std::fabs(double(a)), std::fabs(double(b)));
  if (std::isinf(m)) return std::numeric_limits<double>::infinity();
  return std::fabs(double(a) - double(b)) / m;
}

}  // namespace

ExpertSelector::ExpertSelector(const ModelConfig& model, const std::vector<float>& bias)
    : num_experts_(model.num_experts),
      top_k_(model.top_k),
      scoring_(model.scoring),
      norm_topk_prob_(model.norm_topk_prob),
      routed_scaling_factor_(float(model.routed_scaling_factor)),
      n_group_(model.n_group),
      topk_group_(model.topk_group),
      bias_(bias),
      score_(size_t(model.num_experts)),
      sigmoid_(size_t(model.num_experts)),
      group_score_(size_t(std::max(model.n_group, 1))) {
  if (!bias_.empty() && bias_.size() != size_t(num_experts_))
    throw std::invalid_argument("route(): score bias has " + std::to_string(bias_.size()) +
                                " entries for " + std::to_string(num_experts_) + " experts");
  candidates_.reserve(size_t(num_experts_));
  groups_.reserve(group_score_.size());
}

bool ExpertSelector::ranks_above(int a, int b) const {
  float sa = score_[size_t(a)], sb = score_[size_t(b)];
  return sa > sb || (sa == sb && a < b);
}

void ExpertSelector::select(const float* logits, int32_t* ids) {
  const int E = num_experts_;
  for (int e = 0; e < E; ++e) {
    float v = logits[e];
    if (scoring_ == ScoringFunc::sigmoid) {
      float s = 1.0f / (1.0f + std::exp(-v));
      sigmoid_[size_t(e)] = s;
      v = bias_.empty() ? s : s + bias_[size_t(e)];
    }
    score_[size_t(e)] = std::isnan(v) ? kNegInf : v;
  }

  boundary_gap_ = std::numeric_limits<double>::infinity();
  candidates_.clear();
  if (scoring_ == ScoringFunc::sigmoid && n_group_ > 1) {
    const int G = E / n_group_;
    for (int g = 0; g < n_group_; ++g) {
      float best1 = kNegInf, best2 = kNegInf;
      for (int e = g * G; e < (g + 1) * G; ++e) {
        float v = score_[size_t(e)];
        if (v > best1) {
          best2 = best1;
          best1 = v;
        } else if (v > best2) {
          best2 = v;
        }
      }
      group_score_[size_t(g)] = G == 1 ? best1 : best1 + best2;
    }
    groups_.resize(size_t(n_group_));
    std::iota(groups_.begin(), groups_.end(), 0);
    auto group_above = [&](int a, int b) {
      float sa = group_score_[size_t(a)], sb = group_score_[size_t(b)];
      return sa > sb || (sa == sb && a < b);
    };
    const int ranked = std::min(topk_group_ + 1, n_group_);
    std::partial_sort(groups_.begin(), groups_.begin() + ranked, groups_.end(), group_above);
    if (topk_group_ < n_group_)
      boundary_gap_ = relative_gap(group_score_[size_t(groups_[size_t(topk_group_ - 1)])],
                                   group_score_[size_t(groups_[size_t(topk_group_)])]);
    for (int i = 0; i < topk_group_; ++i)
      for (int e = groups_[size_t(i)] * G; e < (groups_[size_t(i)] + 1) * G; ++e) candidates_.push_back(e);
  } else {
    candidates_.resize(size_t(E));
    std::iota(candidates_.begin(), candidates_.end(), 0);
  }

  const int eligible = int(candidates_.size());
  const int ranked = std::min(top_k_ + 1, eligible);
  std::partial_sort(candidates_.begin(), candidates_.begin() + ranked, candidates_.end(),
                    [&](int a, int b) { return ranks_above(a, b); });
  for (int j = 0; j < top_k_; ++j) ids[j] = candidates_[size_t(j)];
  if (eligible > top_k_)
    boundary_gap_ = std::min(boundary_gap_, relative_gap(score_[size_t(candidates_[size_t(top_k_ - 1)])],
                                                         score_[size_t(candidates_[size_t(top_k_)])]));
}

void ExpertSelector::route_token(const float* logits, int32_t* ids, float* weights) {
  select(logits, ids);
  const int k = top_k_;
  if (scoring_ == ScoringFunc::softmax) {
    float m = *std::max_element(score_.begin(), score_.end());
    float denom = 0;
    for (float v : score_) denom += std::exp(v - m);
    for (int j = 0; j < k; ++j) weights[j] = std::exp(score_[size_t(ids[j])] - m) / denom;
    if (norm_topk_prob_) {
      float sum = 0;
      for (int j = 0; j < k; ++j) sum += weights[j];
      for (int j = 0; j < k; ++j) weights[j] /= sum;
    }
  } else {
    for (int j = 0; j < k; ++j) weights[j] = sigmoid_[size_t(ids[j])];
    if (norm_topk_prob_) {
      float sum = 0;
      for (int j = 0; j < k; ++j) sum += weights[j];
      for (int j = 0; j < k; ++j) weights[j] /= sum + 1e-20f;
    }
  }
  for (int j = 0; j < k; ++j) weights[j] *= routed_scaling_factor_;
}

}  // namespace moebench
