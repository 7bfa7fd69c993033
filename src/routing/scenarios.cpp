// Router logits for the seed-003 scenarios (scenarios.hpp).
//
// Engineered logits (balanced, imbalanced) give the j-th intended expert of a token the logit
// 4 + (k - j + 0.25 u) / k (u uniform in [0, 1): distinct, decreasing in j, in (4, 5.25)) and
// every other expert N(0, 1) - 8, which is at most -2.2 (the Box-Muller normal of 24-bit
// uniforms never exceeds 5.8). So the intended experts win by a wide margin under softmax;
// under sigmoid their selection scores are >= 0.98 - |bias| against <= 0.10 + |bias|, and a
// group holding one of them scores >= 0.88 against <= 0.30 for a group holding none, for any
// score-correction bias below 0.3 in magnitude (ours is below 0.05).
#include "routing/scenarios.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include <fmt/format.h>

#include "core/errors.hpp"
#include "core/synthetic.hpp"

namespace moebench {

namespace {

constexpr uint64_t kNormalStream = uint64_t(SynthStream::router_logits);
constexpr uint64_t kJitterStream = uint64_t(SynthStream::router_logits) + 256;

// Uniform in [0, 1) from the counter-based generator.
double unit_interval(uint64_t seed, uint64_t stream, uint64_t index) {
  return (double(synth_unit(seed, stream, index)) + 1.0) * 0.5;
}

// N(0, 1) by Box-Muller from uniforms 2i and 2i+1; |value| <= sqrt(2 * 24 * ln 2) < 5.8.
float normal(uint64_t seed, uint64_t index) {
  double u1 = 1.0 - unit_interval(seed, kNormalStream, 2 * index);  // (0, 1]
  double u2 = unit_interval(seed, kNormalStream, 2 * index + 1);
  return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
}

// Hands out windows of consecutive experts from a cycle (round robin), moving a window
// forward only when its experts would span more groups than group-limited routing keeps.
class WindowCycle {
 public:
  WindowCycle(const ModelConfig& m, int first_expert)
      : first_(first_expert), size_(m.num_experts - first_expert),
        group_size_(m.num_experts / m.n_group),
        group_limit_(m.scoring == ScoringFunc::sigmoid && m.n_group > 1 ? m.topk_group : 0),
        seen_(size_t(m.n_group)) {}

  // Appends `len` experts to `out` (which may already hold an expert, e.g. the busiest).
  void take(int len, std::vector<int32_t>& out) {
    if (len == 0) return;
    int start = cursor_;
    for (int shift = 0; shift < size_; ++shift) {
      if (fits(out, (cursor_ + shift) % size_, len)) {
        start = (cursor_ + shift) % size_;
        break;
      }
    }
    for (int i = 0; i < len; ++i) out.push_back(first_ + (start + i) % size_);
    cursor_ = (start + len) % size_;
  }

 private:
  bool fits(const std::vector<int32_t>& held, int start, int len) {
    if (group_limit_ == 0) return true;
    std::fill(seen_.begin(), seen_.end(), 0);
    int groups = 0;
    auto mark = [&](int expert) { groups += seen_[size_t(expert / group_size_)]++ == 0; };
    for (int32_t e : held) mark(e);
    for (int i = 0; i < len; ++i) mark(first_ + (start + i) % size_);
    return groups <= group_limit_;
  }

  int first_, size_, group_size_, group_limit_;
  int cursor_ = 0;
  std::vector<int> seen_;
};

// Tokens of the imbalanced scenario that include the busiest expert: n0 of T.
int64_t busiest_load(const ModelConfig& m, int64_t num_tokens, double factor) {
  const double avg = double(num_tokens) * m.top_k / m.num_experts;
  const int64_t at_least = (num_tokens * m.top_k + m.num_experts - 1) / m.num_experts;
  return std::clamp<int64_t>(std::llround(factor * avg), at_least, num_tokens);
}

void write_engineered(const ModelConfig& m, const std::vector<int32_t>& chosen, int64_t token,
                      uint64_t seed, float* row) {
  const int E = m.num_experts, k = m.top_k;
  for (int e = 0; e < E; ++e) row[e] = normal(seed, uint64_t(token) * uint64_t(E) + uint64_t(e)) - 8.0f;
  for (int j = 0; j < k; ++j) {
    float u = float(unit_interval(seed, kJitterStream, uint64_t(token) * uint64_t(k) + uint64_t(j)));
    row[chosen[size_t(j)]] = 4.0f + (float(k - j) + 0.25f * u) / float(k);
  }
}

}  // namespace

const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::random: return "random";
    case Scenario::balanced: return "balanced";
    case Scenario::imbalanced: return "imbalanced";
  }
  return "?";
}

Scenario parse_scenario(const std::string& text) {
  for (Scenario s : all_scenarios())
    if (text == scenario_name(s)) return s;
  throw InputError("--scenarios: unknown scenario '" + text + "'; valid: random, balanced, imbalanced");
}

std::vector<Scenario> all_scenarios() { return {Scenario::random, Scenario::balanced, Scenario::imbalanced}; }

double max_imbalance_factor(const ModelConfig& model) { return double(model.num_experts) / model.top_k; }

void check_imbalance_factor(const ModelConfig& model, double factor) {
  const double max = max_imbalance_factor(model);
  if (!(factor >= 1.0 && factor <= max))
    throw InputError(fmt::format("--imbalance-factor ({:g}) must be between 1 and {:g} (num_experts / top_k) "
                                 "for this model", factor, max));
}

std::vector<float> scenario_logits(const ModelConfig& model, Scenario scenario, int64_t num_tokens,
                                   double imbalance_factor, uint64_t seed) {
  if (num_tokens < 0) throw std::invalid_argument("scenario_logits(): negative token count");
  const int E = model.num_experts, k = model.top_k;
  std::vector<float> logits(size_t(num_tokens) * size_t(E));
  if (scenario == Scenario::random) {
    for (size_t i = 0; i < logits.size(); ++i) logits[i] = normal(seed, i);
    return logits;
  }

  std::vector<int32_t> chosen;
  chosen.reserve(size_t(k));
  if (scenario == Scenario::balanced) {
    // Token t takes experts (t*k + j) mod E, j < k: consecutive, so a token touches as few
    // groups as its k experts allow, plus at most one.
    WindowCycle cycle(model, 0);
    for (int64_t t = 0; t < num_tokens; ++t) {
      chosen.clear();
      cycle.take(k, chosen);
      write_engineered(model, chosen, t, seed, logits.data() + size_t(t) * size_t(E));
    }
    return logits;
  }

  // Imbalanced: n0 tokens, spread evenly over the batch, put expert 0 first; all other
  // assignments go round robin over experts 1..E-1, whose loads then differ by at most one
  // and never exceed n0.
  check_imbalance_factor(model, imbalance_factor);
  const int64_t n0 = busiest_load(model, num_tokens, imbalance_factor);
  WindowCycle others(model, 1);
  for (int64_t t = 0; t < num_tokens; ++t) {
    chosen.clear();
    bool busiest = (t + 1) * n0 / num_tokens > t * n0 / num_tokens;
    if (busiest) chosen.push_back(0);
    others.take(busiest ? k - 1 : k, chosen);
    write_engineered(model, chosen, t, seed, logits.data() + size_t(t) * size_t(E));
  }
  return logits;
}

}  // namespace moebench
