#include "report/report_builder.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include <fmt/format.h>

namespace moebench {

namespace {

std::string fixed(double v, int digits) { return std::isfinite(v) ? fmt::format("{:.{}f}", v, digits) : "-"; }

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "-" : out;
}

void plot_or_reason(ReportDocument& doc, const PlannedPlot& plot, bool with_images) {
  if (plot.made && with_images)
    doc.image(plot.file_name, plot.spec.title);
  else if (!plot.made)
    doc.paragraph(fmt::format("No plot: {}.", plot.why_not));
}

bool layer_row_before(const LayerRow& a, const LayerRow& b) {
  if (a.model != b.model) return a.model < b.model;
  if (a.scenario != b.scenario) return scenario_before(a.scenario, b.scenario);
  if (a.num_tokens != b.num_tokens) return a.num_tokens < b.num_tokens;
  if (a.tp_size != b.tp_size) return a.tp_size < b.tp_size;
  return a.mean_ms < b.mean_ms;
}

void latency_section(ReportDocument& doc, const ReportData& data, const PlannedPlot& plot, bool with_images) {
  doc.heading("Latency comparison across implementations");
  plot_or_reason(doc, plot, with_images);
  if (data.layers.empty()) return;
  std::vector<LayerRow> rows = data.layers;
  std::sort(rows.begin(), rows.end(), layer_row_before);
  // Seed 004's "Speedup" column: against the slowest implementation of the same group.
  using GroupKey = std::tuple<std::string, std::string, int64_t, int>;
  std::map<GroupKey, double> slowest;
  for (const LayerRow& r : rows) {
    double& s = slowest[{r.model, r.scenario, r.num_tokens, r.tp_size}];
    s = std::max(s, r.mean_ms);
  }
  std::vector<std::vector<std::string>> table;
  for (const LayerRow& r : rows)
    table.push_back({r.model, r.scenario, std::to_string(r.num_tokens), std::to_string(r.tp_size), r.impl,
                     fixed(r.mean_ms, 4), fixed(r.p50_ms, 4), fixed(r.p95_ms, 4), fixed(r.throughput_tok_per_s, 0),
                     fmt::format("{:.2f}x", slowest[{r.model, r.scenario, r.num_tokens, r.tp_size}] / r.mean_ms),
                     r.device});
  doc.table({"model", "scenario", "tokens", "GPUs", "implementation", "mean ms", "p50 ms", "p95 ms", "tok/s",
             "speedup vs slowest", "device"},
            table);
}

void memory_section(ReportDocument& doc, const MemoryBars& memory, const MemorySettings& settings,
                    const PlannedPlot& plot, bool with_images) {
  doc.heading("Memory breakdown");
  doc.paragraph(fmt::format(
      "Per GPU, from the memory model (moebench memory), for batch {}, input {} and output {} tokens, TP={} EP={}, "
      "in each model's weight dtype.",
      settings.batch_size, settings.input_len, settings.output_len, settings.layout.tp, settings.layout.ep));
  plot_or_reason(doc, plot, with_images);
  std::vector<std::vector<std::string>> table;
  for (const MemoryBar& b : memory.bars)
    table.push_back({b.model, b.dtype, fixed(b.expert_weights, 2), fixed(b.other_weights, 2), fixed(b.kv_cache, 2),
                     fixed(b.activations, 2), fixed(b.buffers, 2), fixed(b.total(), 2)});
  if (!table.empty())
    doc.table({"model", "dtype", "expert weights GiB", "other weights GiB", "KV cache GiB", "activations GiB",
               "buffers GiB", "total GiB"},
              table);
  for (const std::string& skipped : memory.skipped) doc.paragraph("Not counted: " + skipped + ".");
}

void throughput_section(ReportDocument& doc, const ReportData& data, const PlannedPlot& plot, bool with_images) {
  doc.heading("Throughput scaling");
  plot_or_reason(doc, plot, with_images);
  std::vector<std::vector<std::string>> table;
  std::vector<LayerRow> rows = data.layers;
  std::sort(rows.begin(), rows.end(), [](const LayerRow& a, const LayerRow& b) {
    return std::tie(a.model, a.impl, a.tp_size, a.num_tokens) < std::tie(b.model, b.impl, b.tp_size, b.num_tokens);
  });
  for (const LayerRow& r : rows)
    if (r.scenario == throughput_scenario(data, r.model))
      table.push_back({r.model, r.impl + " (layer, " + r.scenario + ")", std::to_string(r.num_tokens),
                       std::to_string(r.tp_size), fixed(r.throughput_tok_per_s, 0)});
  for (const ModelRow& r : data.models)
    table.push_back({r.model, r.config + " (end to end)", std::to_string(r.batch_size), std::to_string(r.tp_size),
                     fixed(r.throughput_tok_per_s, 0)});
  if (!table.empty()) doc.table({"model", "series", "tokens / batch", "GPUs", "tok/s"}, table);
}

void load_section(ReportDocument& doc, const ReportData& data, const PlannedPlot& plot, bool with_images) {
  doc.heading("Expert load distribution");
  plot_or_reason(doc, plot, with_images);
  // Routing does not depend on the implementation: one row per model x scenario x tokens.
  std::map<std::tuple<std::string, std::string, int64_t>, const LayerRow*> seen;
  std::vector<LayerRow> rows = data.layers;
  std::sort(rows.begin(), rows.end(), layer_row_before);
  std::vector<std::vector<std::string>> table;
  for (const LayerRow& r : rows) {
    if (!seen.emplace(std::tuple{r.model, r.scenario, r.num_tokens}, &r).second) continue;
    const std::string unused =
        r.expert_loads.empty() ? "-" : std::to_string(std::count(r.expert_loads.begin(), r.expert_loads.end(), 0));
    table.push_back({r.model, r.scenario, std::to_string(r.num_tokens), std::to_string(r.max_load),
                     std::to_string(r.min_load), fmt::format("{:.2f}x", r.max_imbalance), unused});
  }
  if (!table.empty())
    doc.table({"model", "scenario", "tokens", "max load", "min load", "max imbalance", "unused experts"}, table);
}

void failure_section(ReportDocument& doc, const ReportData& data) {
  if (data.failures.empty()) return;
  doc.heading("Failures");
  doc.paragraph("Configurations whose latest run failed and that never succeeded (seed 002's failure_results).");
  std::vector<std::vector<std::string>> table;
  for (const FailureRow& f : data.failures)
    table.push_back({f.model, f.config, f.error_type, f.error_message, f.when});
  doc.table({"model", "config", "error type", "message", "when (UTC)"}, table);
}

}  // namespace

ReportDocument build_report(const ReportData& data, const MemoryBars& memory, const std::vector<PlannedPlot>& plots,
                            bool with_images, const ReportHeader& header) {
  ReportDocument doc;
  doc.title = "moebench report";
  std::string filters;
  if (!header.filter.model.empty()) filters += " model " + header.filter.model + ";";
  if (!header.filter.kind.empty()) filters += " kind " + header.filter.kind + ";";
  if (!header.filter.since.empty()) filters += " since " + header.filter.since + ";";
  doc.paragraph(fmt::format("Generated {} by moebench {} from {}{}.", header.generated_at, header.moebench_version,
                            header.results_db, filters.empty() ? "" : " (" + filters.substr(1, filters.size() - 2) + ")"));
  doc.paragraph(fmt::format("{} layer results, {} end-to-end results, {} failures. Models: {}. Devices: {}.",
                            data.layers.size(), data.models.size(), data.failures.size(), joined(data.model_names),
                            joined(data.devices)));
  doc.paragraph("Command: " + header.command_line);
  latency_section(doc, data, plots.at(0), with_images);
  memory_section(doc, memory, header.memory, plots.at(1), with_images);
  throughput_section(doc, data, plots.at(2), with_images);
  load_section(doc, data, plots.at(3), with_images);
  failure_section(doc, data);
  return doc;
}

}  // namespace moebench
