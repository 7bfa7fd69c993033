// Router logits for the routing scenarios (scenarios.hpp).
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
constexpr uint64_t kZipfStream = uint64_t(SynthStream::router_logits) + 512;

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
  WindowCycle(const ModelConfig& m, int first_expert) : WindowCycle(m, first_expert, m.num_experts - first_expert) {}
  // The experts first_expert .. first_expert + count - 1 only.
  WindowCycle(const ModelConfig& m, int first_expert, int count)
      : first_(first_expert), size_(count),
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


// Zipf: token t draws its k experts without replacement from popularity (e+1)^-s; once a
// group-limited router's topk_group groups are used, only experts of those groups remain
// eligible, so that route() keeps every drawn expert.
void zipf_choice(const ModelConfig& m, const std::vector<double>& popularity, int64_t token, uint64_t seed,
                 std::vector<int32_t>& chosen) {
  const int E = m.num_experts, k = m.top_k;
  const int group_size = E / m.n_group;
  const int group_limit = m.scoring == ScoringFunc::sigmoid && m.n_group > 1 ? m.topk_group : 0;
  std::vector<double> weight = popularity;
  std::vector<char> group_used(size_t(m.n_group), 0);
  int groups = 0;
  for (int j = 0; j < k; ++j) {
    double total = 0;
    for (double w : weight) total += w;
    const double target = unit_interval(seed, kZipfStream, uint64_t(token) * uint64_t(k) + uint64_t(j)) * total;
    int pick = -1;
    double run = 0;
    for (int e = 0; e < E; ++e) {
      if (weight[size_t(e)] <= 0) continue;
      pick = e;  // the last eligible expert absorbs rounding at the top end
      run += weight[size_t(e)];
      if (run > target) break;
    }
    chosen.push_back(pick);
    weight[size_t(pick)] = 0;
    if (group_limit > 0 && !group_used[size_t(pick / group_size)]++ && ++groups == group_limit)
      for (int e = 0; e < E; ++e)
        if (!group_used[size_t(e / group_size)]) weight[size_t(e)] = 0;
  }
}

}  // namespace

int hot_expert_count(const ModelConfig& model, const ScenarioParams& params) {
  return params.hot_experts == 0 ? model.top_k : params.hot_experts;
}

void check_zipf_exponent(double exponent) {
  if (!(exponent > 0 && std::isfinite(exponent)))
    throw InputError(fmt::format("--zipf-exponent ({:g}) must be positive: popularity (e+1)^-s, 1 is the classic "
                                 "Zipf law", exponent));
}

void check_hot_experts(const ModelConfig& m, const ScenarioParams& p) {
  const int E = m.num_experts, k = m.top_k, n = hot_expert_count(m, p);
  if (!(n >= 1 && n < E))
    throw InputError(fmt::format("--hot-experts ({}) must be between 1 and {} (num_experts - 1) for this model", n,
                                 E - 1));
  if (!(p.hot_share > 0 && p.hot_share <= 1))
    throw InputError(fmt::format("--hot-share ({:g}) must be in (0, 1]: the share of token-expert assignments the "
                                 "hot experts take", p.hot_share));
  // A token takes k distinct experts: at most n hot ones and at most E - n cold ones.
  const double lo = std::max(0.0, double(k - (E - n)) / k), hi = std::min(1.0, double(n) / k);
  const double slots = p.hot_share * k;
  if (slots > n + 1e-9 || slots < (k - (E - n)) - 1e-9)
    throw InputError(fmt::format("--hot-share ({:g}) must be between {:g} and {:g} with {} hot expert(s) of {} "
                                 "and top-{} (a token holds each expert once)", p.hot_share, lo, hi, n, E, k));
}

void check_scenario_params(const ModelConfig& model, const std::vector<Scenario>& scenarios,
                           const ScenarioParams& params) {
  auto has = [&](Scenario s) { return std::find(scenarios.begin(), scenarios.end(), s) != scenarios.end(); };
  // The model-free knobs are checked whichever scenarios run: a bad value given is a mistake.
  check_zipf_exponent(params.zipf_exponent);
  if (!(params.hot_share > 0 && params.hot_share <= 1))
    throw InputError(fmt::format("--hot-share ({:g}) must be in (0, 1]: the share of token-expert assignments the "
                                 "hot experts take", params.hot_share));
  if (has(Scenario::imbalanced)) check_imbalance_factor(model, params.imbalance_factor);
  if (has(Scenario::hot_experts)) check_hot_experts(model, params);
}

const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::random: return "random";
    case Scenario::balanced: return "balanced";
    case Scenario::imbalanced: return "imbalanced";
    case Scenario::zipf: return "zipf";
    case Scenario::hot_experts: return "hot-experts";
  }
  return "?";
}

Scenario parse_scenario(const std::string& text) {
  for (Scenario s : all_scenarios())
    if (text == scenario_name(s)) return s;
  throw InputError("--scenarios: unknown scenario '" + text + "'; valid: random, balanced, imbalanced, zipf, hot-experts");
}

std::vector<Scenario> all_scenarios() {
  return {Scenario::random, Scenario::balanced, Scenario::imbalanced, Scenario::zipf, Scenario::hot_experts};
}

double max_imbalance_factor(const ModelConfig& model) { return double(model.num_experts) / model.top_k; }

void check_imbalance_factor(const ModelConfig& model, double factor) {
  const double max = max_imbalance_factor(model);
  if (!(factor >= 1.0 && factor <= max))
    throw InputError(fmt::format("--imbalance-factor ({:g}) must be between 1 and {:g} (num_experts / top_k) "
                                 "for this model", factor, max));
}

std::vector<float> scenario_logits(const ModelConfig& model, Scenario scenario, int64_t num_tokens,
                                   double imbalance_factor, uint64_t seed) {
  ScenarioParams params;
  params.imbalance_factor = imbalance_factor;
  return scenario_logits(model, scenario, num_tokens, params, seed);
}

std::vector<float> scenario_logits(const ModelConfig& model, Scenario scenario, int64_t num_tokens,
                                   const ScenarioParams& params, uint64_t seed) {
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

  if (scenario == Scenario::zipf) {
    check_zipf_exponent(params.zipf_exponent);
    std::vector<double> popularity(static_cast<size_t>(E));
    for (int e = 0; e < E; ++e) popularity[size_t(e)] = std::pow(double(e + 1), -params.zipf_exponent);
    for (int64_t t = 0; t < num_tokens; ++t) {
      chosen.clear();
      zipf_choice(model, popularity, t, seed, chosen);
      write_engineered(model, chosen, t, seed, logits.data() + size_t(t) * size_t(E));
    }
    return logits;
  }

  if (scenario == Scenario::hot_experts) {
    // Token t takes H(t+1) - H(t) hot experts, H(t) = round(F*k*t): the hot assignments spread
    // evenly over the batch, each token between floor(F*k) and ceil(F*k) of them.
    check_hot_experts(model, params);
    const int n = hot_expert_count(model, params);
    const double per_token = params.hot_share * k;
    WindowCycle hot(model, 0, n), cold(model, n, E - n);
    for (int64_t t = 0; t < num_tokens; ++t) {
      chosen.clear();
      const int h = int(std::llround(per_token * double(t + 1)) - std::llround(per_token * double(t)));
      hot.take(h, chosen);
      cold.take(k - h, chosen);
      write_engineered(model, chosen, t, seed, logits.data() + size_t(t) * size_t(E));
    }
    return logits;
  }

  // Imbalanced: n0 tokens, spread evenly over the batch, put expert 0 first; all other
  // assignments go round robin over experts 1..E-1, whose loads then differ by at most one
  // and never exceed n0.
  check_imbalance_factor(model, params.imbalance_factor);
  const int64_t n0 = busiest_load(model, num_tokens, params.imbalance_factor);
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
