// results compare: direction of each metric, speedup, change and the threshold.
#include <gtest/gtest.h>

#include "results/compare.hpp"
#include "unit/results_fixture.hpp"

using namespace moebench;

namespace {

RunRecord with_metrics(nlohmann::ordered_json metrics) {
  RunRecord r = moebench::testing::layer_record("m", "c", 1);
  r.metrics = std::move(metrics);
  return r;
}

MetricComparison only(const RunRecord& a, const RunRecord& b, double threshold) {
  std::vector<MetricComparison> rows = compare_runs(a, b, threshold);
  EXPECT_EQ(rows.size(), 1u);
  return rows.empty() ? MetricComparison{} : rows.front();
}

}  // namespace

TEST(Compare, DirectionFromTheName) {
  EXPECT_FALSE(higher_is_better("latency_mean_ms"));
  EXPECT_FALSE(higher_is_better("latency_s"));
  for (const char* lower : {"mean_itl_ms", "median_itl_ms", "p99_itl_ms", "mean_ttft_ms", "std_ttft_ms",
                            "mean_tpot_ms", "std_tpot_ms", "tpot_floor_ms", "verify_rel_error", "measured_memory_bytes"})
    EXPECT_FALSE(higher_is_better(lower)) << lower;
  for (const char* higher : {"input_throughput_tok_per_s", "per_sample_output_throughput_tok_per_s",
                             "e2e_throughput_tok_per_s", "per_sample_e2e_throughput_tok_per_s", "decode_efficiency"})
    EXPECT_TRUE(higher_is_better(higher)) << higher;
  EXPECT_TRUE(higher_is_better("throughput_tok_per_s"));
  EXPECT_TRUE(higher_is_better("output_throughput_tok_per_s"));
  EXPECT_TRUE(higher_is_better("tflops"));
  EXPECT_TRUE(higher_is_better("gbps"));
  EXPECT_TRUE(higher_is_better("efficiency"));
}

TEST(Compare, LatencySpeedupAndThreshold) {
  const RunRecord a = with_metrics({{"latency_mean_ms", 10.0}});
  MetricComparison c = only(a, with_metrics({{"latency_mean_ms", 8.0}}), 5);
  EXPECT_DOUBLE_EQ(c.speedup, 1.25);
  EXPECT_DOUBLE_EQ(c.change_pct, -20);
  EXPECT_EQ(c.verdict, Verdict::better);
  c = only(a, with_metrics({{"latency_mean_ms", 10.4}}), 5);
  EXPECT_EQ(c.verdict, Verdict::same);  // 4% slower: inside 5%
  c = only(a, with_metrics({{"latency_mean_ms", 11.0}}), 5);
  EXPECT_EQ(c.verdict, Verdict::worse);
  EXPECT_NEAR(c.speedup, 10.0 / 11.0, 1e-12);
  c = only(a, with_metrics({{"latency_mean_ms", 11.0}}), 20);
  EXPECT_EQ(c.verdict, Verdict::same);  // a wider threshold lets 10% pass
}

TEST(Compare, ThroughputPointsTheOtherWay) {
  const RunRecord a = with_metrics({{"throughput_tok_per_s", 100.0}});
  MetricComparison c = only(a, with_metrics({{"throughput_tok_per_s", 120.0}}), 5);
  EXPECT_DOUBLE_EQ(c.speedup, 1.2);
  EXPECT_DOUBLE_EQ(c.change_pct, 20);
  EXPECT_EQ(c.verdict, Verdict::better);
  EXPECT_EQ(only(a, with_metrics({{"throughput_tok_per_s", 80.0}}), 5).verdict, Verdict::worse);
}

TEST(Compare, UnknownValuesAndUnsharedMetrics) {
  const RunRecord a = with_metrics({{"efficiency", nullptr}, {"tflops", 2.0}, {"only_a_ms", 1.0}});
  const RunRecord b = with_metrics({{"efficiency", 0.5}, {"tflops", 0.0}, {"only_b_ms", 1.0}});
  std::vector<MetricComparison> rows = compare_runs(a, b, 5);
  ASSERT_EQ(rows.size(), 2u);  // only the shared metrics, in A's order
  EXPECT_EQ(rows[0].metric, "efficiency");
  EXPECT_EQ(rows[0].verdict, Verdict::unknown);
  EXPECT_EQ(rows[1].metric, "tflops");
  EXPECT_EQ(rows[1].verdict, Verdict::unknown);  // a zero has no ratio
}
