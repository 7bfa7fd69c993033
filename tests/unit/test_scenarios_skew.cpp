// The skewed routing scenarios, zipf and hot-experts (routing/scenarios.hpp): their loads follow
// the knobs, the intended experts win under every router, and bad knobs are refused with a line
// naming the flag.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "core/errors.hpp"
#include "moe/layer_weights.hpp"
#include "routing/routing.hpp"
#include "routing/scenarios.hpp"

namespace moebench {
namespace {

ModelConfig softmax_model(int E, int k) {
  ModelConfig m;
  m.name = "softmax";
  m.num_experts = E;
  m.top_k = k;
  m.hidden_size = 16;
  m.moe_intermediate_size = 16;
  m.validate(true);
  return m;
}

ModelConfig sigmoid_model(int E, int k, int n_group, int topk_group) {
  ModelConfig m = softmax_model(E, k);
  m.scoring = ScoringFunc::sigmoid;
  m.n_group = n_group;
  m.topk_group = topk_group;
  m.score_correction_bias = true;
  m.validate(true);
  return m;
}

ScenarioParams zipf(double s) {
  ScenarioParams p;
  p.zipf_exponent = s;
  return p;
}

ScenarioParams hot(int n, double share) {
  ScenarioParams p;
  p.hot_experts = n;
  p.hot_share = share;
  return p;
}

std::vector<int64_t> loads_of(const ModelConfig& m, Scenario s, int64_t T, const ScenarioParams& p) {
  std::vector<float> logits = scenario_logits(m, s, T, p, 7);
  return expert_loads(route(m, logits.data(), T, score_bias_values(m, 7)));
}

// Every token's k positive logits are its intended experts; the router must pick exactly them.
void expect_intended_experts_win(const ModelConfig& m, Scenario s, const ScenarioParams& p) {
  const int64_t T = 300;
  std::vector<float> logits = scenario_logits(m, s, T, p, 3);
  Routing r = route(m, logits.data(), T, score_bias_values(m, 3));
  const int E = m.num_experts;
  for (int64_t t = 0; t < T; ++t) {
    std::set<int32_t> intended, got;
    for (int e = 0; e < E; ++e)
      if (logits[size_t(t * E + e)] > 0) intended.insert(e);
    ASSERT_EQ(int(intended.size()), m.top_k) << "token " << t;
    for (int j = 0; j < m.top_k; ++j) got.insert(r.expert_ids[size_t(t * m.top_k + j)]);
    ASSERT_EQ(got, intended) << "token " << t;
  }
}

TEST(SkewScenarios, Names) {
  EXPECT_EQ(parse_scenario("zipf"), Scenario::zipf);
  EXPECT_EQ(parse_scenario("hot-experts"), Scenario::hot_experts);
  EXPECT_STREQ(scenario_name(Scenario::hot_experts), "hot-experts");
  try {
    parse_scenario("hot_experts");
    FAIL() << "no throw";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("zipf, hot-experts"), std::string::npos) << e.what();
  }
}

TEST(SkewScenarios, ZipfLoadsFallOffWithRank) {
  ModelConfig m = softmax_model(64, 2);
  std::vector<int64_t> loads = loads_of(m, Scenario::zipf, 20000, zipf(1.0));
  EXPECT_EQ(std::accumulate(loads.begin(), loads.end(), int64_t(0)), 40000);
  EXPECT_EQ(*std::max_element(loads.begin(), loads.end()), loads[0]);
  EXPECT_GT(loads[0], loads[3]);
  EXPECT_GT(loads[3], loads[15]);
  EXPECT_GT(loads[15], loads[63]);
  // Expert 0 against expert 1: popularity 2:1, flattened a little by drawing without replacement.
  EXPECT_GT(double(loads[0]) / double(loads[1]), 1.4);
  EXPECT_LT(double(loads[0]) / double(loads[1]), 2.1);
}

TEST(SkewScenarios, LargerZipfExponentIsMoreSkewed) {
  ModelConfig m = softmax_model(32, 4);
  auto imbalance = [&](double s) {
    std::vector<float> logits = scenario_logits(m, Scenario::zipf, 4096, zipf(s), 5);
    return load_stats(route(m, logits.data(), 4096, {})).max_imbalance;
  };
  const double flat = imbalance(0.25), classic = imbalance(1.0), steep = imbalance(2.0);
  EXPECT_GT(flat, 1.0);
  EXPECT_LT(flat, classic);
  EXPECT_LT(classic, steep);
  EXPECT_LE(steep, 32.0 / 4.0 + 1e-9);  // at most every token on expert 0
}

TEST(SkewScenarios, HotExpertsTakeTheirShare) {
  ModelConfig m = softmax_model(60, 4);
  const int64_t T = 1000;
  for (auto [n, share] : {std::pair{4, 0.5}, std::pair{2, 0.3}, std::pair{1, 0.25}, std::pair{8, 1.0}}) {
    SCOPED_TRACE(::testing::Message() << n << " " << share);
    std::vector<int64_t> loads = loads_of(m, Scenario::hot_experts, T, hot(n, share));
    const int64_t hot_total = std::accumulate(loads.begin(), loads.begin() + n, int64_t(0));
    EXPECT_EQ(hot_total, std::llround(share * 4 * T));
    EXPECT_EQ(std::accumulate(loads.begin(), loads.end(), int64_t(0)), 4 * T);
    const auto [lo, hi] = std::minmax_element(loads.begin(), loads.begin() + n);
    EXPECT_LE(*hi - *lo, 1);  // round robin among the hot experts
    if (share < 1.0) {
      const auto [clo, chi] = std::minmax_element(loads.begin() + n, loads.end());
      EXPECT_LE(*chi - *clo, 1);  // and among the cold ones
    }
  }
  // Default N = top_k: with share 0.5 each hot expert holds T/2, so max/avg = 0.5 * E / k.
  std::vector<float> logits = scenario_logits(m, Scenario::hot_experts, T, ScenarioParams{}, 1);
  EXPECT_NEAR(load_stats(route(m, logits.data(), T, {})).max_imbalance, 0.5 * 60 / 4, 1e-9);
}

TEST(SkewScenarios, IntendedExpertsWinUnderEveryRouter) {
  for (const ModelConfig& m : {softmax_model(8, 2), softmax_model(60, 4), sigmoid_model(8, 2, 4, 2),
                               sigmoid_model(64, 6, 8, 3), sigmoid_model(16, 3, 4, 1)}) {
    SCOPED_TRACE(::testing::Message() << m.num_experts << "x" << m.top_k << " " << m.topk_group);
    for (double s : {0.5, 1.0, 3.0}) expect_intended_experts_win(m, Scenario::zipf, zipf(s));
    if (m.topk_group > 1 || m.scoring == ScoringFunc::softmax)
      expect_intended_experts_win(m, Scenario::hot_experts, ScenarioParams{});
  }
}

TEST(SkewScenarios, BadKnobsNameTheirFlag) {
  ModelConfig m = softmax_model(8, 2);
  for (double s : {0.0, -1.0, std::nan(""), double(INFINITY)}) EXPECT_THROW(check_zipf_exponent(s), InputError) << s;
  EXPECT_NO_THROW(check_zipf_exponent(0.1));
  try {
    check_zipf_exponent(0);
    FAIL() << "no throw";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--zipf-exponent (0) must be positive", 0), 0u) << e.what();
  }
  auto hot_error = [&](int n, double share) {
    try {
      check_hot_experts(m, hot(n, share));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(hot_error(2, 0.5), "");
  EXPECT_EQ(hot_error(0, 0.5), "");  // 0: top_k
  EXPECT_EQ(hot_error(8, 0.5), "--hot-experts (8) must be between 1 and 7 (num_experts - 1) for this model");
  EXPECT_NE(hot_error(-1, 0.5).find("--hot-experts (-1)"), std::string::npos);
  EXPECT_NE(hot_error(2, 0.0).find("--hot-share (0) must be in (0, 1]"), std::string::npos);
  EXPECT_NE(hot_error(2, 1.5).find("--hot-share (1.5) must be in (0, 1]"), std::string::npos);
  // One hot expert can take at most one of a token's two slots: a share of 0.5.
  EXPECT_EQ(hot_error(1, 0.9), "--hot-share (0.9) must be between 0 and 0.5 with 1 hot expert(s) of 8 and top-2 "
                               "(a token holds each expert once)");
  // Seven hot experts leave one cold one: at least one of two slots is hot.
  EXPECT_NE(hot_error(7, 0.2).find("between 0.5 and 1"), std::string::npos);
  EXPECT_THROW(scenario_logits(m, Scenario::hot_experts, 4, hot(1, 0.9), 0), InputError);
  EXPECT_THROW(scenario_logits(m, Scenario::zipf, 4, zipf(-2), 0), InputError);
  // The model-free knobs are refused whichever scenarios run; hot-experts' model checks only when it runs.
  EXPECT_THROW(check_scenario_params(m, {Scenario::random}, zipf(0)), InputError);
  EXPECT_THROW(check_scenario_params(m, {Scenario::random}, hot(2, 2.0)), InputError);
  EXPECT_NO_THROW(check_scenario_params(m, {Scenario::random}, hot(1, 0.9)));
  EXPECT_THROW(check_scenario_params(m, {Scenario::hot_experts}, hot(1, 0.9)), InputError);
}

}  // namespace
}  // namespace moebench
