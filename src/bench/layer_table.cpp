// The terminal table of a layer benchmark, in the manner of nccl-tests: the context on '#'
// lines, one column header, one right-aligned row per result, every result checked.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench/layer_groups.hpp"
#include "bench/layer_writers.hpp"

namespace moebench {

namespace {

struct Column {
  const char* title;
  bool left_aligned;  // text columns; numbers are right-aligned
};

const Column kColumns[] = {
    {"scenario", true}, {"tokens", false},  {"impl", true},     {"launch", true},     {"mean ms", false}, {"p50 ms", false},
    {"p95 ms", false},  {"tok/s", false},   {"TFLOP/s", false}, {"GB/s", false},    {"floor ms", false},
    {"eff", false},     {"imbalance", false}, {"rel err", false}, {"check", false},
};
constexpr size_t kNumColumns = std::size(kColumns);

// `spec` formats a finite value; anything else (an unknown roofline, an unmeasured error) is "-".
std::string number(double v, fmt::format_string<double> spec) {
  return std::isfinite(v) ? fmt::vformat(fmt::string_view(spec), fmt::make_format_args(v)) : "-";
}

std::string tokens_per_second(double v) { return v >= 100 ? number(v, "{:.0f}") : number(v, "{:.2f}"); }

std::vector<std::string> row_cells(const LayerResult& r) {
  const bool checked = r.verified;
  return {
      r.scenario,
      std::to_string(r.num_tokens),
      r.impl,
      r.launch,
      number(r.latency_ms.mean, "{:.4f}"),
      number(r.latency_ms.p50, "{:.4f}"),
      number(r.latency_ms.p95, "{:.4f}"),
      tokens_per_second(r.throughput_tok_per_sec),
      number(r.tflops, "{:.2f}"),
      number(r.gbps, "{:.1f}"),
      number(r.floor_ms, "{:.4f}"),
      number(r.efficiency * 100, "{:.1f}%"),
      number(r.load.max_imbalance, "{:.2f}x"),
      checked ? number(r.verify_error, "{:.1e}") +
                    (std::isfinite(r.fp8_vs_bf16_error) ? fmt::format(" (vs bf16 {:.1e})", r.fp8_vs_bf16_error) : "")
              : "-",
      checked ? (r.verify_passed ? "ok" : "FAIL") : "-",
  };
}

std::string ceilings_text(const LayerReportContext& c) {
  if (!std::isfinite(c.copy_gbps) && !std::isfinite(c.gemm_tflops)) return "ceilings unknown, no roofline floor";
  std::string copy = std::isfinite(c.copy_gbps) ? fmt::format("copy {:.0f} GB/s", c.copy_gbps) : "copy not measured";
  std::string gemm =
      std::isfinite(c.gemm_tflops) ? fmt::format("GEMM {:.1f} TFLOP/s", c.gemm_tflops) : "GEMM not measured";
  return fmt::format("ceilings: {}, {}", copy, gemm);
}

}  // namespace

std::string format_layer_table(const std::vector<LayerResult>& results, const LayerReportContext& context) {
  std::string out;
  out += fmt::format("# moebench layer: {}, {} experts top-{}, hidden {}, intermediate {}, {}, EP={} TP={}\n",
                     context.model, context.num_experts, context.top_k, context.hidden_size,
                     context.intermediate_size, context.dtype, context.ep_size, context.tp_size);
  out += fmt::format("# {} on {}; {}\n", context.backend, context.device, ceilings_text(context));
  if (!context.exchange_ceilings.empty()) out += fmt::format("# {}\n", context.exchange_ceilings);
  out += "# eff = floor ms / p50 ms; check = output against the fp64 reference (- = not checked)\n";
  if (results.empty()) return out + "# no results\n";
  out += "#\n";

  // Rows in group order; a blank line between groups when implementations sit side by side,
  // otherwise between scenarios.
  const std::vector<LayerResultGroup> groups = group_layer_results(results);
  const bool several_impls = std::any_of(groups.begin(), groups.end(),
                                         [](const LayerResultGroup& g) { return g.results.size() > 1; });
  std::vector<std::vector<std::string>> rows;  // an empty row is a blank line
  for (size_t g = 0; g < groups.size(); ++g) {
    if (g > 0 && (several_impls || groups[g].scenario != groups[g - 1].scenario)) rows.emplace_back();
    for (const LayerResult* r : groups[g].results) rows.push_back(row_cells(*r));
  }

  size_t width[kNumColumns];
  for (size_t c = 0; c < kNumColumns; ++c) {
    width[c] = std::char_traits<char>::length(kColumns[c].title);
    for (const auto& row : rows)
      if (!row.empty()) width[c] = std::max(width[c], row[c].size());
  }
  // Header and rows share one layout: a two-character lead ("# " or "  "), cells two apart.
  auto line = [&](const char* lead, auto cell) {
    std::string s = lead;
    for (size_t c = 0; c < kNumColumns; ++c) {
      if (c > 0) s += "  ";
      const std::string text = cell(c);
      const std::string pad(width[c] - std::min(width[c], text.size()), ' ');
      s += kColumns[c].left_aligned ? text + pad : pad + text;
    }
    return s + "\n";
  };
  out += line("# ", [](size_t c) { return std::string(kColumns[c].title); });
  for (const auto& row : rows) out += row.empty() ? "\n" : line("  ", [&](size_t c) { return row[c]; });
  // What implementations report beside their timings (e.g. tile-rounded's padding saved).
  for (const LayerResult& r : results) {
    if (r.counters.empty()) continue;
    std::string list;
    for (const auto& [name, value] : r.counters) list += fmt::format("{}{}={:g}", list.empty() ? "" : ", ", name, value);
    out += fmt::format("# {} {} tokens={}: {}\n", r.impl, r.scenario, r.num_tokens, list);
  }
  return out;
}

}  // namespace moebench
