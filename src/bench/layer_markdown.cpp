// Markdown of layer results in seed 003's layout: the configuration under one title, then one
// section per scenario and token count with the implementations side by side and the speedup.
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench/layer_groups.hpp"
#include "bench/layer_writers.hpp"

namespace moebench {

namespace {

std::string number(double v, fmt::format_string<double> spec) {
  return std::isfinite(v) ? fmt::vformat(fmt::string_view(spec), fmt::make_format_args(v)) : "-";
}

// A table cell: '|' would end the cell, a line break the row.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

// Inline code whatever the text holds: the fence is one backtick longer than any run inside.
std::string code(const std::string& s) {
  size_t longest = 0, run = 0;
  for (char c : s) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(longest + 1, '`');
  const bool pad = !s.empty() && (s.front() == '`' || s.back() == '`');
  return fence + (pad ? " " + s + " " : s) + fence;
}

std::string verification(const LayerResult& r) {
  if (!r.verified) return "-";
  std::string detail = number(r.verify_error, "{:.1e}");
  if (r.unwritten_outputs > 0) detail += fmt::format(", {} unwritten", r.unwritten_outputs);
  if (std::isfinite(r.fp8_vs_bf16_error)) detail += fmt::format("; vs bf16 {:.1e}", r.fp8_vs_bf16_error);
  return fmt::format("{} ({})", r.verify_passed ? "ok" : "**FAIL**", detail);
}

// First implementation's mean latency over the fastest other's; results that failed
// verification are no measurement of a working layer and take no part.
std::string speedup(const std::vector<const LayerResult*>& results) {
  const LayerResult& first = *results.front();
  const LayerResult* best = nullptr;
  for (size_t i = 1; i < results.size(); ++i) {
    const LayerResult& r = *results[i];
    if (failed_verification(r) || !(r.latency_ms.mean > 0)) continue;
    if (!best || r.latency_ms.mean < best->latency_ms.mean) best = &r;
  }
  if (!best || failed_verification(first) || !(first.latency_ms.mean > 0)) return "-";
  return fmt::format("{:.2f}x ({})", first.latency_ms.mean / best->latency_ms.mean, cell(best->impl));
}

struct Metric {
  const char* name;
  std::function<std::string(const LayerResult&)> value;
};

const std::vector<Metric>& metrics() {
  static const std::vector<Metric> m = {
      {"Mean Latency (ms)", [](const LayerResult& r) { return number(r.latency_ms.mean, "{:.4f}"); }},
      {"P95 Latency (ms)", [](const LayerResult& r) { return number(r.latency_ms.p95, "{:.4f}"); }},
      {"Throughput (tok/s)", [](const LayerResult& r) { return number(r.throughput_tok_per_sec, "{:.1f}"); }},
      {"Max Imbalance", [](const LayerResult& r) { return number(r.load.max_imbalance, "{:.2f}x"); }},
      {"TFLOP/s", [](const LayerResult& r) { return number(r.tflops, "{:.2f}"); }},
      {"Efficiency (floor/time)", [](const LayerResult& r) { return number(r.efficiency * 100, "{:.1f}%"); }},
      {"Verification", verification},
  };
  return m;
}

std::string section(const LayerResultGroup& g) {
  std::string head = "| Metric |", rule = "|--------|";
  for (const LayerResult* r : g.results) {
    head += fmt::format(" {} |", cell(r->impl));
    rule += fmt::format("{}|", std::string(cell(r->impl).size() + 2, '-'));
  }
  head += " Speedup |\n";
  rule += "---------|\n";

  std::string out = fmt::format("## Scenario: {}, Tokens: {}\n\n", g.scenario, g.num_tokens) + head + rule;
  const std::string first_speedup = g.results.size() > 1 ? speedup(g.results) : "-";
  for (const Metric& m : metrics()) {
    out += fmt::format("| {} |", m.name);
    for (const LayerResult* r : g.results) out += fmt::format(" {} |", m.value(*r));
    out += fmt::format(" {} |\n", &m == &metrics().front() ? first_speedup : "-");
  }
  return out + "\n";
}

std::string preamble(const std::vector<LayerResult>& results, const LayerReportContext& c) {
  std::string out = "# MoE Benchmark Results\n";
  out += fmt::format("**Configuration:** {} experts, top-{}, EP={}, TP={}\n\n", c.num_experts, c.top_k, c.ep_size,
                     c.tp_size);
  out += fmt::format("- **Model:** {}, hidden {}, intermediate {}, {}\n", code(c.model), c.hidden_size,
                     c.intermediate_size, c.dtype);
  out += fmt::format("- **Device:** {} ({} backend)\n", c.device, c.backend);
  if (std::isfinite(c.copy_gbps) || std::isfinite(c.gemm_tflops))
    out += fmt::format("- **Ceilings:** copy {}, GEMM {}; roofline floor = max(FLOPs / GEMM, bytes / copy)\n",
                       std::isfinite(c.copy_gbps) ? fmt::format("{:.0f} GB/s", c.copy_gbps) : "not measured",
                       std::isfinite(c.gemm_tflops) ? fmt::format("{:.1f} TFLOP/s", c.gemm_tflops) : "not measured");
  const auto checked = std::count_if(results.begin(), results.end(), [](const LayerResult& r) { return r.verified; });
  const auto failed = std::count_if(results.begin(), results.end(), failed_verification);
  if (checked > 0)
    out += failed == 0 ? fmt::format("- **Verification:** all {} checked results passed\n", checked)
                       : fmt::format("- **Verification:** {} of {} checked results **FAILED**\n", failed, checked);
  out += fmt::format("- **Run:** {}, moebench {}\n", c.date, c.moebench_version);
  if (!c.command_line.empty()) out += fmt::format("- **Command:** {}\n", code(c.command_line));
  return out + "\n";
}

}  // namespace

std::string layer_results_markdown(const std::vector<LayerResult>& results, const LayerReportContext& context) {
  std::string out = preamble(results, context);
  if (results.empty()) return out + "No results.\n";
  for (const LayerResultGroup& g : group_layer_results(results)) out += section(g);
  out.pop_back();  // one newline at the end, not a blank line
  return out;
}

}  // namespace moebench
