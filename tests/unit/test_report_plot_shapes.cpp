// Every report plot drawn from degenerate data (one row, one column, one point, equal values,
// NaN where a run failed) either shows it or says why not: rendered through gnuplot, a made
// plot gives no warning (gnuplot warns where it draws nothing: "Image grid must be at least
// 4 points", "Skipping data file with no valid points").
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli_runner.hpp"
#include "report/gnuplot.hpp"
#include "report/report_plots.hpp"

namespace {

using moebench::LayerRow;
using moebench::ModelRow;
using moebench::PlannedPlot;
using moebench::ReportData;

// gnuplot's messages for `plot` rendered to a PNG: empty when it drew everything it was given.
std::string gnuplot_messages(const PlannedPlot& plot, const std::string& tag) {
  const auto dir = moebench::testing::fresh_temp_dir("plot-shapes-" + tag);
  for (const auto& [name, text] : plot.spec.data) std::ofstream(dir / name) << text;
  std::ofstream(dir / "plot.gp") << "set terminal pngcairo size 800,600\nset output \"plot.png\"\n"
                                 << plot.spec.script;
  const std::string command = "cd '" + dir.string() + "' && gnuplot plot.gp 2>&1";
  std::string out;
  if (std::FILE* p = popen(command.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  EXPECT_GT(std::filesystem::file_size(dir / "plot.png"), 0u) << out;
  return out;
}

LayerRow layer_row(const std::string& impl, const std::string& scenario, int64_t tokens, double ms,
                   std::vector<int64_t> loads = {}) {
  LayerRow r;
  r.model = "m";
  r.impl = impl;
  r.scenario = scenario;
  r.num_tokens = tokens;
  r.mean_ms = ms;
  r.throughput_tok_per_s = std::isfinite(ms) ? double(tokens) / ms * 1e3 : NAN;
  r.expert_loads = std::move(loads);
  return r;
}

ReportData with_rows(std::vector<LayerRow> rows) {
  ReportData d;
  d.layers = std::move(rows);
  d.model_names = {"m"};
  return d;
}

void expect_drawn(const PlannedPlot& plot, const std::string& tag) {
  ASSERT_TRUE(plot.made) << plot.why_not;
  if (!moebench::gnuplot_available()) GTEST_SKIP() << "gnuplot is not installed here";
  EXPECT_EQ(gnuplot_messages(plot, tag), "") << plot.spec.script;
}

}  // namespace

TEST(ReportPlotShapes, HeatmapOfOneRowOneColumnOrEqualLoads) {
  // One scenario x token count: a single row.
  expect_drawn(moebench::expert_load_plot(with_rows({layer_row("naive", "random", 64, 1.0, {10, 30, 20, 4})})),
               "one-row");
  // One expert: a single column.
  expect_drawn(moebench::expert_load_plot(with_rows({layer_row("naive", "random", 64, 1.0, {64}),
                                                     layer_row("naive", "balanced", 64, 1.0, {64})})),
               "one-column");
  // One cell, and every load equal.
  expect_drawn(moebench::expert_load_plot(with_rows({layer_row("naive", "random", 8, 1.0, {8})})), "one-cell");
  expect_drawn(moebench::expert_load_plot(with_rows({layer_row("naive", "balanced", 64, 1.0, {16, 16, 16, 16}),
                                                     layer_row("naive", "balanced", 128, 1.0, {32, 32, 32, 32})})),
               "equal");
}

TEST(ReportPlotShapes, LatencyOfOnePointEqualValuesAndFailures) {
  expect_drawn(moebench::latency_comparison_plot(with_rows({layer_row("naive", "random", 64, 1.0)})), "lat-one");
  expect_drawn(moebench::latency_comparison_plot(
                   with_rows({layer_row("naive", "random", 64, 2.0), layer_row("grouped", "random", 64, 2.0)})),
               "lat-equal");
  // One implementation failed everywhere: drawn without it.
  expect_drawn(moebench::latency_comparison_plot(
                   with_rows({layer_row("naive", "random", 64, 1.0), layer_row("fused", "random", 64, NAN)})),
               "lat-nan");
  // Every run failed: said, not drawn.
  PlannedPlot none = moebench::latency_comparison_plot(with_rows({layer_row("naive", "random", 64, NAN)}));
  EXPECT_FALSE(none.made);
  EXPECT_NE(none.why_not.find("no layer result has a measured latency"), std::string::npos) << none.why_not;
}

TEST(ReportPlotShapes, ThroughputOfOnePointAndFailedModelRuns) {
  expect_drawn(moebench::throughput_scaling_plot(with_rows({layer_row("naive", "random", 64, 1.0)})), "tp-one");
  ReportData d = with_rows({layer_row("naive", "random", 64, 1.0), layer_row("naive", "random", 128, 1.0)});
  ModelRow failed;
  failed.model = "m";
  failed.batch_size = 4;
  failed.throughput_tok_per_s = NAN;
  d.models = {failed};
  expect_drawn(moebench::throughput_scaling_plot(d), "tp-nan");
  // Only failed model runs: said, not drawn.
  ReportData only_failed;
  only_failed.models = {failed};
  only_failed.model_names = {"m"};
  EXPECT_FALSE(moebench::throughput_scaling_plot(only_failed).made);
}

TEST(ReportPlotShapes, MemoryOfOneModel) {
  moebench::MemorySettings settings;
  moebench::MemoryBars memory = moebench::memory_bars({{"small", "bf16"}}, settings);
  ASSERT_EQ(memory.bars.size(), 1u);
  expect_drawn(moebench::memory_breakdown_plot(memory, settings), "mem-one");
}
