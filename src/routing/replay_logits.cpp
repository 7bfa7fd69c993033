// Logits that make this model's router replay a recorded routing (replay_logits.hpp).
#include "routing/replay_logits.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace {

constexpr double kBelow = 30.0;  // how far the unchosen experts sit below the chosen ones

void softmax_row(const ModelConfig& m, const int32_t* ids, const float* w, float* row) {
  const int E = m.num_experts, k = m.top_k;
  const double scale = m.routed_scaling_factor;
  double lowest = INFINITY, sum = 0;
  for (int j = 0; j < k; ++j) {
    const double p = std::max(double(w[j]) / scale, 1e-30);
    lowest = std::min(lowest, std::log(p));
    sum += p;
  }
  double rest = lowest - kBelow;
  // Without renormalisation the weights are probabilities of the full softmax: the others
  // share what the chosen experts leave, staying below the smallest chosen one.
  if (!m.norm_topk_prob && E > k && sum < 1.0) {
    const double share = std::log((1.0 - sum) / double(E - k));
    if (share < lowest) rest = std::max(share, rest);
  }
  for (int e = 0; e < E; ++e) row[e] = float(rest);
  for (int j = 0; j < k; ++j) row[ids[j]] = float(std::log(std::max(double(w[j]) / scale, 1e-30)));
}

void sigmoid_row(const ModelConfig& m, const int32_t* ids, const float* w, float* row) {
  const int E = m.num_experts, k = m.top_k;
  double c = 1.0 / m.routed_scaling_factor;
  if (m.norm_topk_prob) c = 0.999 / std::max(double(*std::max_element(w, w + k)), 1e-30);
  for (int e = 0; e < E; ++e) row[e] = float(-kBelow);
  for (int j = 0; j < k; ++j) {
    const double s = std::clamp(c * double(w[j]), 1e-12, 1.0 - 1e-7);
    row[ids[j]] = float(std::log(s / (1.0 - s)));
  }
}

// The first token whose routing under `logits` differs from the recording, or -1.
int64_t first_difference(const ModelConfig& m, const std::vector<float>& logits, const Routing& want,
                         const std::vector<float>& bias, std::string& why) {
  const Routing got = route(m, logits.data(), want.num_tokens, bias);
  const int k = m.top_k;
  for (int64_t t = 0; t < want.num_tokens; ++t) {
    std::map<int32_t, float> recorded;
    for (int j = 0; j < k; ++j) recorded[want.expert_ids[size_t(t * k + j)]] = want.weights[size_t(t * k + j)];
    for (int j = 0; j < k; ++j) {
      const int32_t id = got.expert_ids[size_t(t * k + j)];
      const float g = got.weights[size_t(t * k + j)];
      auto it = recorded.find(id);
      if (it == recorded.end()) {
        why = fmt::format("this model's router picks expert {}, which the file does not", id);
        return t;
      }
      if (std::abs(double(g) - double(it->second)) > 1e-3 * std::abs(double(it->second)) + 1e-6) {
        why = fmt::format("this model's router weighs expert {} {:.6g} against the file's {:.6g}", id, g, it->second);
        return t;
      }
    }
  }
  return -1;
}

}  // namespace

std::vector<float> replay_logits(const ModelConfig& m, const RecordedRouting& r, const std::vector<float>& bias,
                                 const std::string& path) {
  const int64_t T = r.routing.num_tokens;
  const int E = m.num_experts, k = m.top_k;
  std::vector<float> logits = r.logits;
  if (logits.empty()) {
    logits.resize(size_t(T) * size_t(E));
    for (int64_t t = 0; t < T; ++t) {
      const int32_t* ids = r.routing.expert_ids.data() + size_t(t * k);
      const float* w = r.routing.weights.data() + size_t(t * k);
      float* row = logits.data() + size_t(t) * size_t(E);
      if (m.scoring == ScoringFunc::softmax)
        softmax_row(m, ids, w, row);
      else
        sigmoid_row(m, ids, w, row);
    }
  }
  std::string why;
  const int64_t t = first_difference(m, logits, r.routing, bias, why);
  if (t >= 0)
    throw InputError(fmt::format("--routing-file {}: run '{}' token {}: {} ({} logits, {} scoring{}); the file was "
                                 "recorded from another router than this model's", path, r.name, t, why,
                                 r.logits.empty() ? "made from the weights" : "recorded", scoring_name(m.scoring),
                                 m.norm_topk_prob ? ", norm_topk_prob" : ""));
  return logits;
}

}  // namespace moebench
