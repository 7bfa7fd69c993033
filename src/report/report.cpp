#include "report/report.hpp"

#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "core/build_info.hpp"
#include "core/errors.hpp"
#include "report/gnuplot.hpp"
#include "core/output_files.hpp"
#include "report/report_builder.hpp"
#include "report/report_plots.hpp"
#include "results/results_store.hpp"
#include "results/timestamps.hpp"

namespace moebench {

namespace {

void validate(const ReportOptions& o) {
  if (!o.filter.kind.empty() && o.filter.kind != "layer" && o.filter.kind != "model")
    throw InputError(fmt::format("--kind '{}': use layer or model", o.filter.kind));
  validate_since(o.filter.since);
  if (o.memory.batch_size <= 0)
    throw InputError(fmt::format("--batch-size must be positive (got {})", o.memory.batch_size));
  if (o.memory.input_len <= 0) throw InputError(fmt::format("--input-len must be positive (got {})", o.memory.input_len));
  if (o.memory.output_len < 0)
    throw InputError(fmt::format("--output-len must be >= 0 (got {})", o.memory.output_len));
  if (o.memory.layout.tp <= 0 || o.memory.layout.ep <= 0 || o.memory.layout.tp % o.memory.layout.ep != 0)
    throw InputError(fmt::format("--tp-size {} --ep-size {}: both positive, tp a multiple of ep", o.memory.layout.tp,
                                 o.memory.layout.ep));
}

// Every model with a successful result, with the weight dtype it ran in (its first layer
// row's; end-to-end rows do not record one: bf16).
std::vector<std::pair<std::string, std::string>> models_with_dtype(const ReportData& data) {
  std::map<std::string, std::string> dtype;
  for (const LayerRow& r : data.layers) dtype.emplace(r.model, r.dtype);
  for (const ModelRow& r : data.models) dtype.emplace(r.model, "");
  return {dtype.begin(), dtype.end()};
}

}  // namespace

void parse_report_formats(const std::vector<std::string>& formats, ReportOptions& options) {
  options.markdown = options.html = false;
  for (const std::string& f : formats) {
    if (f == "md" || f == "markdown")
      options.markdown = true;
    else if (f == "html")
      options.html = true;
    else
      throw InputError(fmt::format("--format '{}': use md, html or md,html", f));
  }
  if (!options.markdown && !options.html) throw InputError("--format: give md, html or md,html");
}

std::vector<std::string> write_report(const ReportOptions& o) {
  validate(o);
  if (o.plots) require_gnuplot();
  ResultsStore store(o.results_db, ResultsStore::OpenMode::read_only);
  const ReportData data = load_report_data(store, o.filter);
  ensure_writable_directory(o.output_dir, "--output-dir");

  const MemoryBars memory = memory_bars(models_with_dtype(data), o.memory);
  const std::vector<PlannedPlot> plots = {latency_comparison_plot(data), memory_breakdown_plot(memory, o.memory),
                                          throughput_scaling_plot(data), expert_load_plot(data)};
  std::map<std::string, std::string> pngs;
  if (o.plots)
    for (const PlannedPlot& p : plots)
      if (p.made) pngs[p.file_name] = render_png(p.spec);

  ReportHeader header{o.results_db, o.filter, o.memory, utc_now_iso(),
                      fmt::format("{} ({})", build_version(), build_git_revision()), o.command_line};
  const ReportDocument doc = build_report(data, memory, plots, o.plots, header);

  namespace fs = std::filesystem;
  const fs::path dir(o.output_dir);
  std::vector<std::pair<std::string, std::string>> files;
  if (o.markdown) {
    files.push_back({(dir / "report.md").string(), render_markdown(doc)});
    for (const auto& [name, png] : pngs) files.push_back({(dir / name).string(), png});
  }
  if (o.html) files.push_back({(dir / "report.html").string(), render_html(doc, pngs)});
  write_files(files, "--output-dir");
  std::vector<std::string> paths;
  for (const auto& [path, text] : files) paths.push_back(path);
  return paths;
}

}  // namespace moebench
