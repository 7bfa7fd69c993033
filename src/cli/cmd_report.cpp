// moebench report: a Markdown report with its PNGs and a self-contained HTML report, from the
// results store (seed 004's results/ plots). The flags fill a ReportJob; the job itself is
// report/report_job.
#include "cli/command.hpp"
#include "cli/record_options.hpp"
#include "cli/vocabulary.hpp"
#include "report/report_job.hpp"
#include "results/results_store.hpp"

namespace moebench::cli {

Command add_report_command(CLI::App& app) {
  auto o = std::make_shared<ReportJob>();
  o->report.results_db = kDefaultResultsDb;
  CLI::App* sub = app.add_subcommand("report", "Markdown and HTML report with plots from stored results");
  add_results_db_option(*sub, o->report.results_db);
  sub->add_option("--model", o->report.filter.model, "only this model's results (default: all)");
  sub->add_option("--kind", o->report.filter.kind, "only layer or model results (default: both)");
  sub->add_option("--since", o->report.filter.since, "only results finished since this UTC date or time (YYYY-MM-DD)");
  sub->add_option("--output-dir", o->report.output_dir, "where report.md, its PNGs and report.html go")
      ->capture_default_str();
  sub->add_option(kOutputFormatFlags, o->formats, "markdown (or md), html, or both: markdown,html")->delimiter(',')->capture_default_str();
  sub->add_flag("--no-plots", o->no_plots, "tables only, without gnuplot");
  sub->add_option("--batch-size", o->report.memory.batch_size, "memory breakdown: sequences")->capture_default_str();
  sub->add_option(kInputLenFlags, o->report.memory.input_len, "memory breakdown: prompt tokens")->capture_default_str();
  sub->add_option(kOutputLenFlags, o->report.memory.output_len, "memory breakdown: generated tokens")
      ->capture_default_str();
  sub->add_option(kTpSizeFlags, o->report.memory.layout.tp, "memory breakdown: GPUs")->capture_default_str();
  sub->add_option(kEpSizeFlags, o->report.memory.layout.ep, "memory breakdown: expert-parallel groups")
      ->capture_default_str();
  return {sub, [o] { return run_report_job(*o, invocation()); }};
}

}  // namespace moebench::cli
