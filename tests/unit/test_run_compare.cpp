// `results compare --run-name A B`: configuration by configuration, only those both runs hold,
// regressions only outside the runs' own noise band; two runs of the same binary mark nothing.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_runner.hpp"
#include "results/run_compare.hpp"

namespace fs = std::filesystem;
using moebench::testing::CliResult;
using moebench::testing::expect_bad_input;
using moebench::testing::fresh_temp_dir;
using moebench::testing::run_moebench;

namespace moebench {
namespace {

RunRecord layer(const std::string& config, double min, double p50, double p95) {
  RunRecord r;
  r.kind = "layer";
  r.model = "m";
  r.config = config;
  r.status = RunStatus::success;
  r.metrics = {{"latency_min_ms", min}, {"latency_p50_ms", p50}, {"latency_p95_ms", p95}};
  return r;
}

TEST(RunCompare, RegressionOnlyOutsideTheNoiseBand) {
  const std::vector<RunRecord> a = {layer("c1", 0.9, 1.0, 1.2), layer("c2", 0.9, 1.0, 1.2), layer("c3", 0.9, 1.0, 1.2),
                                    layer("only_a", 1, 1, 1)};
  const std::vector<RunRecord> b = {layer("c1", 1.0, 1.1, 1.3),   // within A's band: same
                                    layer("c2", 1.3, 1.5, 1.7),   // above A's band, fastest above A's p50: REGRESSION
                                    layer("c3", 0.5, 0.6, 0.7),   // below A's band: better
                                    layer("only_b", 1, 1, 1)};
  const RunNameComparison c = compare_run_names(a, b, 5);
  ASSERT_EQ(c.rows.size(), 3u);
  EXPECT_EQ(c.rows[0].verdict, Verdict::same);
  EXPECT_EQ(c.rows[1].verdict, Verdict::worse);
  EXPECT_NEAR(c.rows[1].change_pct, 50, 1e-9);
  EXPECT_EQ(c.rows[2].verdict, Verdict::better);
  EXPECT_EQ(c.only_a, 1);
  EXPECT_EQ(c.only_b, 1);
  // A wide band (noisy repeats of A) swallows the same shift.
  std::vector<RunRecord> noisy = a;
  noisy.push_back(layer("c2", 0.8, 1.4, 1.8));
  EXPECT_EQ(compare_run_names(noisy, b, 5).rows[1].verdict, Verdict::same);
  // A failure or a record without the figures is left out.
  RunRecord failed = layer("c1", 1, 1, 1);
  failed.status = RunStatus::failure;
  EXPECT_EQ(compare_run_names({failed}, b, 5).left_out, 1);
}

TEST(RunCompare, TwoRunsOfTheSameBinaryMarkNothing) {
  const fs::path dir = fresh_temp_dir("run_compare");
  const std::string db = (dir / "store.db").string();
  // Each name run twice, interleaved (a b a b), as a user repeats runs to learn their noise: a
  // change of load on a busy machine then widens both bands alike instead of passing for a
  // regression of whichever ran second.
  for (const char* name : {"a", "b", "a", "b"}) {
    CliResult r = run_moebench("layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 2 "
                               "--hidden-size 64 --intermediate-size 128 --num-tokens 8,32 --scenarios random,zipf "
                               "--benchmark-iters 20 --quiet --run-name " + std::string(name) + " --results-db '" + db + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  CliResult c = run_moebench("results compare --run-name a b --results-db '" + db + "'");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("# 4 configurations compared, 0 regressions"), std::string::npos) << c.out;
  EXPECT_EQ(c.out.find("REGRESSION"), std::string::npos) << c.out;
  expect_bad_input("results compare --run-name a nope --results-db '" + db + "'", "no records of run 'nope'");
  expect_bad_input("results compare 1 2 --run-name a b --results-db '" + db + "'", "not both");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace moebench
