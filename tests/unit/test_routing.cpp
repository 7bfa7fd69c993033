// Router (hand-computed cases), load statistics, and the seed-003 scenarios: their imbalance
// figures, determinism, and that the engineered ones route as intended under every router.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/errors.hpp"
#include "moe/layer_weights.hpp"
#include "routing/routing.hpp"
#include "routing/scenarios.hpp"

namespace moebench {
namespace {

ModelConfig softmax_model(int experts, int top_k) {
  ModelConfig m;
  m.name = "test";
  m.hidden_size = 16;
  m.moe_intermediate_size = 16;
  m.num_experts = experts;
  m.top_k = top_k;
  m.validate(true);
  return m;
}

ModelConfig sigmoid_model(int experts, int top_k, int n_group, int topk_group) {
  ModelConfig m = softmax_model(experts, top_k);
  m.scoring = ScoringFunc::sigmoid;
  m.n_group = n_group;
  m.topk_group = topk_group;
  m.score_correction_bias = true;
  m.validate(true);
  return m;
}

std::vector<int32_t> ids_of(const Routing& r, int64_t t) {
  return {r.expert_ids.begin() + t * r.top_k, r.expert_ids.begin() + (t + 1) * r.top_k};
}
std::vector<float> weights_of(const Routing& r, int64_t t) {
  return {r.weights.begin() + t * r.top_k, r.weights.begin() + (t + 1) * r.top_k};
}

// ---------------------------------------------------------------- router, by hand

TEST(Router, SoftmaxTopKByHand) {
  ModelConfig m = softmax_model(4, 2);
  // softmax([1, 3, 2, 0.5]) = [0.085369, 0.630796, 0.232057, 0.051779]
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.5f};
  Routing r = route(m, logits.data(), 1, {});
  EXPECT_EQ(ids_of(r, 0), (std::vector<int32_t>{1, 2}));
  EXPECT_NEAR(r.weights[0], 0.7310586, 1e-6);  // renormalised: 0.630796 / (0.630796 + 0.232057)
  EXPECT_NEAR(r.weights[1], 0.2689414, 1e-6);

  m.norm_topk_prob = false;
  m.routed_scaling_factor = 2.0;
  r = route(m, logits.data(), 1, {});
  EXPECT_EQ(ids_of(r, 0), (std::vector<int32_t>{1, 2}));
  EXPECT_NEAR(r.weights[0], 2 * 0.6307955, 1e-6);
  EXPECT_NEAR(r.weights[1], 2 * 0.2320567, 1e-6);
}

TEST(Router, TiesGoToTheLowerExpertId) {
  ModelConfig m = softmax_model(4, 2);
  const std::vector<float> logits = {3.0f, 1.0f, 3.0f, 3.0f,   // three-way tie for two places
                                     0.0f, 2.0f, 1.0f, 2.0f};  // tie for first
  Routing r = route(m, logits.data(), 2, {});
  EXPECT_EQ(ids_of(r, 0), (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(ids_of(r, 1), (std::vector<int32_t>{1, 3}));
  EXPECT_FLOAT_EQ(r.weights[2], 0.5f);

  // A NaN logit never wins.
  const std::vector<float> nan_row = {std::nanf(""), 1.0f, 0.5f, 0.0f};
  EXPECT_EQ(ids_of(route(m, nan_row.data(), 1, {}), 0), (std::vector<int32_t>{1, 2}));
}

// E = 8 in 4 groups of 2, keep 2 groups, top-3, bias on experts 2, 6 and 7.
//   s        = [.8808 .2689 .5 .5 .8176 .8022 .9526 .0474]
//   s + bias = [.8808 .2689 .8 .5 .8176 .8022 .7526 .1474]
//   groups   = [1.1497 1.3 1.6198 0.9] -> keep groups 2 and 1 -> experts {2, 3, 4, 5}
// Expert 0 has the best selection score and expert 6 the best sigmoid, but both groups are
// dropped; expert 2 wins through its bias, with its unbiased weight 0.5.
TEST(Router, SigmoidGroupLimitedWithBiasByHand) {
  ModelConfig m = sigmoid_model(8, 3, 4, 2);
  m.routed_scaling_factor = 2.5;
  const std::vector<float> logits = {2.0f, -1.0f, 0.0f, 0.0f, 1.5f, 1.4f, 3.0f, -3.0f};
  const std::vector<float> bias = {0, 0, 0.3f, 0, 0, 0, -0.2f, 0.1f};
  Routing r = route(m, logits.data(), 1, bias);
  EXPECT_EQ(ids_of(r, 0), (std::vector<int32_t>{4, 5, 2}));
  std::vector<float> w = weights_of(r, 0);
  EXPECT_NEAR(w[0], 0.9642307, 1e-6);  // 2.5 * .8176 / (.8176 + .8022 + .5)
  EXPECT_NEAR(w[1], 0.9460794, 1e-6);
  EXPECT_NEAR(w[2], 0.5896899, 1e-6);

  m.norm_topk_prob = false;
  w = weights_of(route(m, logits.data(), 1, bias), 0);
  EXPECT_NEAR(w[0], 2.0439362, 1e-6);
  EXPECT_NEAR(w[2], 1.25, 1e-6);

  // Without groups the best selection scores win: 0, 4, 5.
  ModelConfig flat = sigmoid_model(8, 3, 1, 1);
  r = route(flat, logits.data(), 1, bias);
  EXPECT_EQ(ids_of(r, 0), (std::vector<int32_t>{0, 4, 5}));
  EXPECT_NEAR(r.weights[0], 0.3522406, 1e-6);
  // Without bias, expert 6 (the best sigmoid) leads.
  EXPECT_EQ(ids_of(route(flat, logits.data(), 1, {}), 0), (std::vector<int32_t>{6, 0, 4}));
}

TEST(Router, RejectsABiasOfTheWrongSize) {
  ModelConfig m = sigmoid_model(8, 2, 1, 1);
  std::vector<float> logits(8, 0.0f);
  EXPECT_THROW(route(m, logits.data(), 1, std::vector<float>(7, 0.0f)), std::invalid_argument);
}

TEST(Router, DeterministicAndBatchIndependent) {
  ModelConfig m = sigmoid_model(64, 6, 8, 3);
  std::vector<float> bias = score_bias_values(m, 5);
  std::vector<float> logits = scenario_logits(m, Scenario::random, 3000, 1.0, 5);
  Routing a = route(m, logits.data(), 3000, bias), b = route(m, logits.data(), 3000, bias);
  EXPECT_EQ(a.expert_ids, b.expert_ids);
  EXPECT_EQ(a.weights, b.weights);
  // Token by token (one thread) gives the same as the whole batch (several threads).
  for (int64_t t : {0, 1234, 2999}) {
    Routing one = route(m, logits.data() + t * 64, 1, bias);
    EXPECT_EQ(one.expert_ids, ids_of(a, t));
    EXPECT_EQ(one.weights, weights_of(a, t));
  }
}

// ---------------------------------------------------------------- load statistics

TEST(LoadStats, HandMadeRouting) {
  Routing r;
  r.num_tokens = 3;
  r.top_k = 2;
  r.num_experts = 5;
  r.expert_ids = {0, 1, 0, 2, 0, 1};
  r.weights.assign(6, 0.5f);
  EXPECT_EQ(expert_loads(r), (std::vector<int64_t>{3, 2, 1, 0, 0}));
  LoadStats s = load_stats(r);
  EXPECT_EQ(s.max_load, 3);
  EXPECT_EQ(s.min_load, 0);
  EXPECT_DOUBLE_EQ(s.avg_load, 1.2);
  EXPECT_DOUBLE_EQ(s.max_imbalance, 2.5);
  EXPECT_EQ(s.unused_experts, 2);
  EXPECT_EQ(s.active_experts, 3);

  r.expert_ids = {0, 1, 2, 3, 4, 0};
  s = load_stats(r);
  EXPECT_EQ(s.min_load, 1);
  EXPECT_EQ(s.unused_experts, 0);
  EXPECT_EQ(s.active_experts, 5);
}

TEST(LoadStats, EmptyBatch) {
  Routing r;
  r.top_k = 2;
  r.num_experts = 4;
  LoadStats s = load_stats(r);
  EXPECT_EQ(s.max_load, 0);
  EXPECT_EQ(s.max_imbalance, 0);
  EXPECT_EQ(s.unused_experts, 4);
}

// ---------------------------------------------------------------- scenarios

TEST(Scenarios, NamesAndBadInput) {
  for (Scenario s : all_scenarios()) EXPECT_EQ(parse_scenario(scenario_name(s)), s);
  try {
    parse_scenario("sideways");
    FAIL() << "no throw";
  } catch (const InputError& e) {
    std::string msg = e.what();
    for (const char* part : {"sideways", "random", "balanced", "imbalanced"})
      EXPECT_NE(msg.find(part), std::string::npos) << msg;
  }
}

TEST(Scenarios, ImbalanceFactorRange) {
  ModelConfig m = softmax_model(8, 2);
  EXPECT_DOUBLE_EQ(max_imbalance_factor(m), 4.0);
  EXPECT_NO_THROW(check_imbalance_factor(m, 1.0));
  EXPECT_NO_THROW(check_imbalance_factor(m, 4.0));
  for (double bad : {0.5, 4.01, std::nan("")}) EXPECT_THROW(check_imbalance_factor(m, bad), InputError);
  try {
    check_imbalance_factor(m, 5);
    FAIL() << "no throw";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "--imbalance-factor (5) must be between 1 and 4 (num_experts / top_k) for this model");
  }
  EXPECT_THROW(scenario_logits(m, Scenario::imbalanced, 16, 9.0, 0), InputError);
  EXPECT_NO_THROW(scenario_logits(m, Scenario::balanced, 16, 9.0, 0));  // factor unused
}

TEST(Scenarios, DeterministicInTheSeed) {
  ModelConfig m = softmax_model(8, 2);
  for (Scenario s : all_scenarios()) {
    SCOPED_TRACE(scenario_name(s));
    std::vector<float> a = scenario_logits(m, s, 100, 2.0, 11), b = scenario_logits(m, s, 100, 2.0, 11);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, scenario_logits(m, s, 100, 2.0, 12));
  }
  // A random token's row does not depend on the batch size.
  std::vector<float> small = scenario_logits(m, Scenario::random, 10, 1.0, 3);
  std::vector<float> big = scenario_logits(m, Scenario::random, 1000, 1.0, 3);
  EXPECT_TRUE(std::equal(small.begin(), small.end(), big.begin()));
}

TEST(Scenarios, RandomLogitsAreStandardNormal) {
  ModelConfig m = softmax_model(16, 2);
  std::vector<float> l = scenario_logits(m, Scenario::random, 4096, 1.0, 1);
  double sum = 0, sum2 = 0;
  for (float v : l) {
    sum += v;
    sum2 += double(v) * v;
  }
  double mean = sum / double(l.size()), var = sum2 / double(l.size()) - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(var, 1.0, 0.03);
}

double imbalance(const ModelConfig& m, Scenario s, int64_t tokens, double factor, const std::vector<float>& bias) {
  std::vector<float> logits = scenario_logits(m, s, tokens, factor, 9);
  return load_stats(route(m, logits.data(), tokens, bias)).max_imbalance;
}

struct ModelCase {
  const char* name;
  ModelConfig model;
};

std::vector<ModelCase> scenario_models() {
  return {{"softmax_8x2", softmax_model(8, 2)},
          {"softmax_60x4", softmax_model(60, 4)},
          {"sigmoid_8x2_groups", sigmoid_model(8, 2, 4, 2)},
          {"sigmoid_64x6_groups", sigmoid_model(64, 6, 8, 3)}};
}

TEST(Scenarios, ImbalanceFigures) {
  for (const ModelCase& c : scenario_models()) {
    SCOPED_TRACE(c.name);
    const ModelConfig& m = c.model;
    std::vector<float> bias = score_bias_values(m, 9);
    const double top = max_imbalance_factor(m);
    for (int64_t T : {128, 1000, 4096}) {
      SCOPED_TRACE(T);
      const double balanced = imbalance(m, Scenario::balanced, T, 1.0, bias);
      EXPECT_GE(balanced, 1.0);
      EXPECT_LE(balanced, 1.0 + double(m.num_experts) / double(T * m.top_k) + 1e-12);  // one token over
      if (T * m.top_k % m.num_experts == 0) EXPECT_DOUBLE_EQ(balanced, 1.0);
      for (double factor : {1.5, 3.0, top}) {
        if (factor > top) continue;
        EXPECT_NEAR(imbalance(m, Scenario::imbalanced, T, factor, bias), factor, 0.1 * factor) << factor;
      }
    }
    const double random = imbalance(m, Scenario::random, 4096, 1.0, bias);
    EXPECT_GT(random, 1.0);
    EXPECT_LT(random, 2.0);
  }
}

TEST(Scenarios, ImbalancedBusiestIsExpertZero) {
  ModelConfig m = softmax_model(8, 2);
  for (int64_t T : {1, 3, 7, 64, 333}) {
    for (double factor : {1.0, 2.0, 4.0}) {
      std::vector<float> logits = scenario_logits(m, Scenario::imbalanced, T, factor, 1);
      std::vector<int64_t> loads = expert_loads(route(m, logits.data(), T, {}));
      EXPECT_EQ(*std::max_element(loads.begin(), loads.end()), loads[0]) << T << " " << factor;
      const int64_t n0 = std::clamp<int64_t>(std::llround(factor * double(T) * 2 / 8), (T * 2 + 7) / 8, T);
      EXPECT_EQ(loads[0], n0) << T << " " << factor;
    }
  }
}

TEST(Scenarios, BalancedIsRoundRobin) {
  ModelConfig m = softmax_model(8, 3);
  std::vector<float> logits = scenario_logits(m, Scenario::balanced, 20, 1.0, 4);
  Routing r = route(m, logits.data(), 20, {});
  for (int64_t t = 0; t < 20; ++t)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(r.expert_ids[size_t(t * 3 + j)], (t * 3 + j) % 8);
}

// The intended experts of an engineered token are those with positive logits (4..5.25 against
// at most -2.2); every router, group limits and bias included, must pick exactly them.
void expect_routes_as_intended(const ModelConfig& m, Scenario s, int64_t T, double factor) {
  std::vector<float> bias = score_bias_values(m, 2);
  std::vector<float> logits = scenario_logits(m, s, T, factor, 2);
  Routing r = route(m, logits.data(), T, bias);
  const int E = m.num_experts, G = E / m.n_group;
  for (int64_t t = 0; t < T; ++t) {
    std::set<int32_t> intended, groups;
    for (int e = 0; e < E; ++e)
      if (logits[size_t(t * E + e)] > 0) intended.insert(e);
    ASSERT_EQ(int(intended.size()), m.top_k) << "token " << t;
    for (int32_t e : intended) groups.insert(e / G);
    if (m.scoring == ScoringFunc::sigmoid) ASSERT_LE(int(groups.size()), m.topk_group) << "token " << t;
    std::vector<int32_t> got = ids_of(r, t);
    ASSERT_EQ(std::set<int32_t>(got.begin(), got.end()), intended) << "token " << t;
  }
}

TEST(Scenarios, EngineeredRoutingSurvivesGroupLimitsAndBias) {
  std::vector<ModelCase> models = scenario_models();
  // Tight group limits: a window of consecutive experts can straddle one group too many.
  models.push_back({"sigmoid_16x3_one_group", sigmoid_model(16, 3, 4, 1)});
  models.push_back({"sigmoid_8x3_two_groups", sigmoid_model(8, 3, 4, 2)});
  models.push_back({"sigmoid_12x5_two_groups", sigmoid_model(12, 5, 3, 2)});
  for (const ModelCase& c : models) {
    SCOPED_TRACE(c.name);
    expect_routes_as_intended(c.model, Scenario::balanced, 257, 1.0);
    for (double factor : {1.0, 2.0, max_imbalance_factor(c.model)})
      expect_routes_as_intended(c.model, Scenario::imbalanced, 257, factor);
  }
}

TEST(Scenarios, TightGroupLimitsStayNearTheirTargets) {
  ModelConfig m = sigmoid_model(16, 3, 4, 1);
  std::vector<float> bias = score_bias_values(m, 9);
  EXPECT_LT(imbalance(m, Scenario::balanced, 4096, 1.0, bias), 1.4);
  EXPECT_NEAR(imbalance(m, Scenario::imbalanced, 4096, 3.0, bias), 3.0, 0.3);
}

}  // namespace
}  // namespace moebench
