// The people-facing texts of stored runs: `results list`, `results show` and `results compare`.
#include "report/results_writers.hpp"

#include <fmt/format.h>

#include "bench/record_tables.hpp"
#include "core/text_table.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

std::string error_text(const RunRecord& r) {
  return r.status == RunStatus::success ? "" : r.error_type + ": " + r.error_message;
}

// A layer row's mean latency, or a model run's whole generation (seed 002's latency_s).
std::string latency_text(const json& metrics) {
  for (const auto& [key, unit] : {std::pair{"latency_mean_ms", " ms"}, std::pair{"latency_s", " s"}})
    if (metrics.contains(key) && metrics[key].is_number()) return record_cell(metrics[key]) + unit;
  return "-";
}

}  // namespace

std::string results_list_table(const std::vector<RunRecord>& records) {
  TextTable t;
  t.header = {"id", "finished", "kind", "status", "model", "config", "latency / error"};
  t.numeric = {true, false, false, false, false, false, false};
  for (const RunRecord& r : records) {
    std::string last = r.status == RunStatus::success ? latency_text(r.metrics) : error_text(r);
    if (last.size() > 60) last = last.substr(0, 57) + "...";
    t.rows.push_back({std::to_string(r.id), r.finished_at, r.kind, run_status_name(r.status), r.model, r.config, last});
  }
  return format_aligned(t);
}

std::string run_record_text(const RunRecord& r) {
  const RunEnvironment& e = r.environment;
  std::string out = fmt::format("id            {}\nkey           {}\nkind          {}\nstatus        {}\n", r.id, r.key(),
                                r.kind, run_status_name(r.status));
  if (r.status == RunStatus::failure) out += fmt::format("error         {}: {}\n", r.error_type, r.error_message);
  out += fmt::format("started       {}\nfinished      {}\ngroup         {}\ncommand       {}\n", r.started_at,
                     r.finished_at, r.group_id, r.command_line);
  out += fmt::format("environment   host {}, {} backend, {}", e.host, e.backend, e.device);
  if (!e.driver_version.empty()) out += fmt::format(", driver {}, runtime {}", e.driver_version, e.cuda_version);
  out += fmt::format("\nmoebench      {} ({})\n", e.moebench_version, e.git_revision);
  auto section = [&](const char* title, const json& object) {
    out += fmt::format("{}\n", title);
    for (const auto& [key, value] : object.items()) out += fmt::format("  {:<22} {}\n", key, record_cell(value));
  };
  section("params", r.params);
  section("metrics", r.metrics);
  section("details", r.details);
  return out;
}

std::string compare_table(const RunRecord& a, const RunRecord& b, const std::vector<MetricComparison>& rows,
                          double threshold_pct) {
  TextTable t;
  t.header = {"metric", fmt::format("A (id {})", a.id), fmt::format("B (id {})", b.id), "speedup", "change", "verdict"};
  t.numeric = {false, true, true, true, true, false};
  for (const MetricComparison& c : rows) {
    const bool known = c.verdict != Verdict::unknown;
    const char* verdict = c.verdict == Verdict::better ? "better"
                          : c.verdict == Verdict::worse ? "REGRESSION"
                          : known                       ? "same"
                                                        : "-";
    t.rows.push_back({c.metric, format_figure(&c.a), format_figure(&c.b),
                      known ? fmt::format("{:.3f}x", c.speedup) : "-",
                      known ? fmt::format("{:+.1f}%", c.change_pct) : "-", verdict});
  }
  return fmt::format("# A: {} ({})\n# B: {} ({})\n# threshold: {:g}%\n{}", a.key(), a.finished_at, b.key(), b.finished_at,
                     threshold_pct, format_aligned(t));
}

std::string run_name_compare_table(const std::string& a, const std::string& b, const RunNameComparison& c,
                                   double threshold_pct) {
  TextTable t;
  t.header = {"config", "A p50 ms", "A band ms", "B p50 ms", "B band ms", "change", "verdict"};
  t.numeric = {false, true, false, true, false, true, false};
  int regressions = 0;
  for (const ConfigComparison& r : c.rows) {
    regressions += r.verdict == Verdict::worse;
    t.rows.push_back({r.key, fmt::format("{:.4g}", r.a_p50), fmt::format("{:.4g}-{:.4g}", r.a_lo, r.a_hi),
                      fmt::format("{:.4g}", r.b_p50), fmt::format("{:.4g}-{:.4g}", r.b_lo, r.b_hi),
                      fmt::format("{:+.1f}%", r.change_pct),
                      r.verdict == Verdict::worse ? "REGRESSION" : r.verdict == Verdict::better ? "better" : "same"});
  }
  return fmt::format("# A: run {}\n# B: run {}\n# threshold: {:g}%, noise band: [lowest latency_min_ms, highest "
                     "latency_p95_ms] of each run's records\n{}# {} configurations compared, {} regressions; {} only in "
                     "A, {} only in B, {} records left out\n",
                     a, b, threshold_pct, format_aligned(t), c.rows.size(), regressions, c.only_a, c.only_b, c.left_out);
}

}  // namespace moebench
