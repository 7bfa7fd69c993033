#pragma once
// The report's four plots (seed 004's results/ folder), as gnuplot scripts with their data:
// latency across implementations, memory breakdown, throughput scaling, expert load heatmap.
// A plot with nothing to show is not made; the reason is given instead. Every plot draws what
// it has whatever its shape (one row, one column, one point, equal values) and leaves out, saying
// so, what was not measured (NaN).
#include <string>
#include <vector>

#include "report/gnuplot.hpp"
#include "report/report_data.hpp"
#include "report/report_memory.hpp"

namespace moebench {

struct PlannedPlot {
  std::string file_name;
  std::string title;
  bool made = false;
  PlotSpec spec;        // when made
  std::string why_not;  // when not
};

// Grouped bars per model: mean latency per scenario x token count, one bar per implementation.
PlannedPlot latency_comparison_plot(const ReportData& data);
// Stacked bars per model: GiB per GPU by part, from the memory model.
PlannedPlot memory_breakdown_plot(const MemoryBars& memory, const MemorySettings& settings);
// Tokens/s against tokens per forward (batch size for model runs), and against GPU count.
PlannedPlot throughput_scaling_plot(const ReportData& data);
// Heatmap per model: load / average load of every expert (x) in every scenario x token count (y).
PlannedPlot expert_load_plot(const ReportData& data);

// The scenario order the seeds use (random, balanced, imbalanced), others after by name.
bool scenario_before(const std::string& a, const std::string& b);

// The scenario a model's throughput is read in: random where it ran, else its first.
std::string throughput_scenario(const ReportData& data, const std::string& model);

}  // namespace moebench
