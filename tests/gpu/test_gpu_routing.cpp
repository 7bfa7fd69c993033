// GPU top-k routing selects exactly what route() selects, with the same weights.
#include <algorithm>
#include <cmath>

#include "backend/cuda_backend.hpp"
#include "gpu_test_util.hpp"
#include "moe/cuda/routing_kernels.cuh"
#include "routing/expert_selector.hpp"
#include "routing/routing.hpp"

using namespace moebench;

namespace {

struct RoutingCase {
  const char* name;
  int experts, top_k;
  ScoringFunc scoring;
  bool renorm;
  int n_group, topk_group;
  bool bias;
};

const RoutingCase kCases[] = {
    {"softmax_renorm_e8_k2", 8, 2, ScoringFunc::softmax, true, 1, 1, false},
    {"softmax_plain_e64_k8", 64, 8, ScoringFunc::softmax, false, 1, 1, false},
    {"softmax_e128_k1", 128, 1, ScoringFunc::softmax, true, 1, 1, false},
    {"sigmoid_grouped_e256_k8", 256, 8, ScoringFunc::sigmoid, true, 8, 4, true},
    {"sigmoid_bias_e128_k8", 128, 8, ScoringFunc::sigmoid, true, 1, 1, true},
    {"sigmoid_grouped_e64_k2", 64, 2, ScoringFunc::sigmoid, false, 4, 1, true},
};

}  // namespace

TEST(GpuRouting, MatchesCpuRoute) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  for (const RoutingCase& c : kCases) {
    ModelConfig m;
    m.name = c.name;
    m.num_experts = c.experts;
    m.top_k = c.top_k;
    m.hidden_size = 64;
    m.moe_intermediate_size = 64;
    m.scoring = c.scoring;
    m.norm_topk_prob = c.renorm;
    m.n_group = c.n_group;
    m.topk_group = c.topk_group;
    m.score_correction_bias = c.bias;
    m.routed_scaling_factor = c.scoring == ScoringFunc::sigmoid ? 2.5 : 1.0;
    m.validate(true);
    std::vector<float> bias = score_bias_values(m, 5);
    for (int64_t tokens : {1, 7, 129, 4096}) {
      SCOPED_TRACE(std::string(c.name) + " tokens=" + std::to_string(tokens));
      std::vector<float> logits = scenario_logits(m, Scenario::random, tokens, 1.0, uint64_t(tokens));
      Routing want = route(m, logits.data(), tokens, bias);
      DeviceBuffer d_logits(*gpu, logits.size() * 4), d_bias(*gpu, std::max<size_t>(bias.size(), 1) * 4),
          d_ids(*gpu, size_t(tokens * c.top_k) * 4), d_w(*gpu, size_t(tokens * c.top_k) * 4);
      gpu->copy_to_device(d_logits.get(), logits.data(), logits.size() * 4);
      if (!bias.empty()) gpu->copy_to_device(d_bias.get(), bias.data(), bias.size() * 4);
      launch_topk_routing(router_params(m), d_logits.as<float>(), bias.empty() ? nullptr : d_bias.as<float>(), tokens,
                          d_ids.as<int32_t>(), d_w.as<float>(), cuda_stream(*gpu));
      std::vector<int32_t> ids(size_t(tokens * c.top_k));
      std::vector<float> w(ids.size());
      gpu->copy_to_host(ids.data(), d_ids.get(), ids.size() * 4);
      gpu->copy_to_host(w.data(), d_w.get(), w.size() * 4);
      ExpertSelector selector(m, bias);
      int64_t compared = 0;
      for (int64_t t = 0; t < tokens; ++t) {
        std::vector<int32_t> tmp_ids(size_t(c.top_k));
        std::vector<float> tmp_w(size_t(c.top_k));
        selector.route_token(logits.data() + t * c.experts, tmp_ids.data(), tmp_w.data());
        if (selector.boundary_gap() < 1e-6) continue;  // a legitimate near-tie: either side is right
        ++compared;
        // The chosen set must agree; the order inside it may differ where two chosen scores are
        // within an ulp (expf differs by an ulp between devices), so compare sorted by id.
        std::vector<std::pair<int32_t, float>> got_set, want_set;
        for (int j = 0; j < c.top_k; ++j) {
          size_t i = size_t(t * c.top_k + j);
          got_set.emplace_back(ids[i], w[i]);
          want_set.emplace_back(want.expert_ids[i], want.weights[i]);
        }
        std::sort(got_set.begin(), got_set.end());
        std::sort(want_set.begin(), want_set.end());
        for (int j = 0; j < c.top_k; ++j) {
          ASSERT_EQ(got_set[size_t(j)].first, want_set[size_t(j)].first) << "token " << t;
          ASSERT_NEAR(got_set[size_t(j)].second, want_set[size_t(j)].second,
                      1e-5f * std::max(1.0f, std::fabs(want_set[size_t(j)].second)))
              << "token " << t << " expert " << want_set[size_t(j)].first;
        }
      }
      EXPECT_GE(compared, tokens * 9 / 10);
    }
  }
}
