// tile-rounded at sizes where the rounding really changes the routing: both rounding
// directions happen, the padding shrinks, and the output matches the fp64 reference routed
// through the CPU's rounding of the same batch (a GPU decision differing from the CPU's would
// fail the check: the changed assignments move whole expert contributions).
#include <map>

#include "gpu_test_util.hpp"

using namespace moebench;
using moebench::testing::gpu_test_model;
using moebench::testing::run_and_verify;

namespace {

const ImplInfo& tile_rounded() {
  for (const ImplInfo& info : all_impls())
    if (info.name == "tile-rounded") return info;
  throw std::runtime_error("tile-rounded is not registered");
}

std::map<std::string, double> counters_of(const moebench::testing::GpuRun& run) {
  return {run.counters.begin(), run.counters.end()};
}

}  // namespace

TEST(GpuTileRounding, RoundsBothWaysAndMatchesTheRoundedReference) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  // 8 experts x top-2 over 3000 tokens: 750 rows per expert on average, 256-row tiles; the
  // imbalanced scenario spreads the counts so both directions occur. deepseek-like: sigmoid
  // group-limited routing with a shared expert, 64-row tiles at 700 tokens x 8 / 64 experts.
  ModelConfig mixtral = gpu_test_model("mixtral-like", 8, 2, 256, 512);
  ModelConfig ds = moebench::testing::gpu_test_models()[1];
  ASSERT_EQ(ds.name, "deepseek-like");
  struct Case {
    ModelConfig model;
    int64_t tokens;
  };
  int64_t dropped = 0, added = 0;
  for (const Case& c : {Case{mixtral, 3000}, Case{ds, 700}, Case{ds, 1500}})
    for (Scenario scenario : all_scenarios()) {
      SCOPED_TRACE(c.model.name + " " + scenario_name(scenario) + " T=" + std::to_string(c.tokens));
      auto run = run_and_verify(*gpu, tile_rounded(), c.model, DType::bf16, scenario, c.tokens, 17, 256);
      EXPECT_TRUE(run.verify.passed) << "rel err " << run.verify.rel_error << ", unwritten " << run.verify.unwritten;
      auto counters = counters_of(run);
      EXPECT_LE(counters["padding_rows_after"], counters["padding_rows_before"]);
      dropped += int64_t(counters["assignments_dropped"]);
      added += int64_t(counters["assignments_added"]);
    }
  EXPECT_GT(dropped, 0) << "no expert was rounded down";
  EXPECT_GT(added, 0) << "no expert was rounded up";
}

TEST(GpuTileRounding, GraphReplayMatchesTheRoundedReference) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  ModelConfig m = gpu_test_model("mixtral-like", 8, 2, 256, 512);
  m.validate(true);
  auto run = run_and_verify(*gpu, tile_rounded(), m, DType::bf16, Scenario::random, 2500, 23, 128, /*as_graph=*/true);
  EXPECT_TRUE(run.verify.passed) << "rel err " << run.verify.rel_error;
  EXPECT_GT(counters_of(run)["assignments_dropped"] + counters_of(run)["assignments_added"], 0);
}
