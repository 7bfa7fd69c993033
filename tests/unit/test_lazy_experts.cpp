// On the CPU backend a layer's routed experts are filled when routing first selects them, and
// the reference packs only those: a run of a few tokens over a large layer holds and computes
// the experts it reads, with the same values an eager fill gives.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <set>
#include <vector>

#include "cli_runner.hpp"
#include "layer_fixture.hpp"

namespace moebench {
namespace {

using testing::LayerFixture;

ModelConfig many_experts_model() {
  ModelConfig m;
  m.name = "many-experts";
  m.hidden_size = 256;
  m.moe_intermediate_size = 512;
  m.num_experts = 64;
  m.top_k = 2;
  m.validate(/*layer_only=*/true);
  return m;
}

bool expert_filled(const LayerFixture& f, int e) {
  const int64_t n = 2 * f.spec.model.moe_intermediate_size * f.spec.model.hidden_size;
  const auto* w13 = static_cast<const uint16_t*>(f.weights().w13) + size_t(e) * size_t(n);
  return std::any_of(w13, w13 + n, [](uint16_t v) { return v != 0; });
}

TEST(LazyExperts, OnlyRoutedExpertsAreFilledWithTheEagerValues) {
  LayerFixture f(many_experts_model(), DType::bf16, 3);
  std::vector<uint16_t> out = f.run_reference();
  const Routing routing = route(f.spec.model, f.logits.data(), f.tokens, f.bias());
  const std::set<int32_t> routed(routing.expert_ids.begin(), routing.expert_ids.end());
  for (int e = 0; e < f.spec.model.num_experts; ++e) EXPECT_EQ(expert_filled(f, e), routed.count(e) == 1) << e;

  // An expert filled on its own holds what a fill of the whole tensor puts there.
  const int e = *routed.begin();
  const size_t n = size_t(2 * 512 * 256);
  std::vector<uint16_t> whole(size_t(f.spec.model.num_experts) * n);
  f.backend->fill_synthetic(whole.data(), DType::bf16, whole.size(), f.spec.seed,
                            uint64_t(SynthStream::expert_gate_up), 0, fan_in_scale(256));
  const auto* w13 = static_cast<const uint16_t*>(f.weights().w13);
  EXPECT_TRUE(std::equal(w13 + size_t(e) * n, w13 + size_t(e + 1) * n, whole.begin() + long(size_t(e) * n)));
}

// A model whose layer is gigabytes (qwen3-30b-a3b: 128 experts, 3.6 GB with the fp32 packing)
// runs one token on the CPU holding the eight experts it routes to.
TEST(LazyExperts, OneTokenOfALargeLayerHoldsItsExpertsOnly) {
  testing::CliResult r = testing::run_moebench(
      "layer --backend cpu --model qwen3-30b-a3b --num-tokens 1 --warmup-iters 0 --benchmark-iters 1 --quiet "
      "--no-record");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  EXPECT_LT(usage.ru_maxrss, 1024 * 1024) << "KiB";  // under 1 GiB
}

}  // namespace
}  // namespace moebench
