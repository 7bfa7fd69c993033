// CSV of layer results: seed 003's columns first, in its order, so that its plotting scripts
// keep working, then ours. RFC 4180 quoting; '\n' line ends; empty field for an unknown value.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/csv_field.hpp"
#include "bench/layer_writers.hpp"

namespace moebench {

namespace {

constexpr const char* kHeader =
    // seed 003
    "implementation,scenario,num_tokens,ep_size,tp_size,num_experts,num_experts_per_tok,"
    "latency_mean_ms,latency_std_ms,latency_p50_ms,latency_p95_ms,latency_p99_ms,"
    "max_load,min_load,avg_load,max_imbalance,throughput_tok_per_sec,"
    // ours
    "model,backend,device,dtype,hidden_size,intermediate_size,latency_min_ms,latency_max_ms,iterations,"
    "flops,bytes_min,tflops,gbps,floor_ms,efficiency,unused_experts,active_experts,"
    "verified,verify_passed,verify_rel_error,verify_tokens,unwritten_outputs,peak_memory_bytes,launch,counters,"
    "fp8_scaling,fp8_vs_bf16_rel_error\n";


// Fixed notation with at least `min_decimals` decimals (seed 003 writes latencies with 4) and
// at least 5 significant digits, so that a value reads back within 1e-4 relative; zeros past
// `min_decimals` are dropped (0.12340 -> 0.1234).
std::string decimal(double v, int min_decimals) {
  if (!std::isfinite(v)) return "";
  int decimals = min_decimals;
  if (v != 0) decimals = std::clamp(4 - int(std::floor(std::log10(std::fabs(v)))), min_decimals, 15);
  std::string s = fmt::format("{:.{}f}", v, decimals);
  for (int d = decimals; d > min_decimals && s.back() == '0'; --d) s.pop_back();
  return s;
}

// Large or tiny magnitudes (FLOPs, bytes, relative errors): 9 significant digits.
std::string general(double v) { return std::isfinite(v) ? fmt::format("{:.9g}", v) : ""; }

std::string boolean(bool b) { return b ? "true" : "false"; }

std::string counters(const LayerResult& r) {
  std::string s;
  for (const auto& [name, value] : r.counters) {
    if (!s.empty()) s += ';';
    s += name + "=" + general(value);
  }
  return s;
}

std::string row(const LayerResult& r) {
  const LatencyStats& l = r.latency_ms;
  const std::vector<std::string> fields = {
      // seed 003
      csv_field(r.impl), csv_field(r.scenario), std::to_string(r.num_tokens), std::to_string(r.ep_size),
      std::to_string(r.tp_size), std::to_string(r.num_experts), std::to_string(r.top_k), decimal(l.mean, 4),
      decimal(l.std, 4), decimal(l.p50, 4), decimal(l.p95, 4), decimal(l.p99, 4), std::to_string(r.load.max_load),
      std::to_string(r.load.min_load), decimal(r.load.avg_load, 1), decimal(r.load.max_imbalance, 2),
      decimal(r.throughput_tok_per_sec, 2),
      // ours
      csv_field(r.model), csv_field(r.backend), csv_field(r.device), csv_field(r.dtype), std::to_string(r.hidden_size),
      std::to_string(r.intermediate_size), decimal(l.min, 4), decimal(l.max, 4), std::to_string(l.count),
      general(r.flops), general(r.bytes_min), decimal(r.tflops, 2), decimal(r.gbps, 2), decimal(r.floor_ms, 4),
      decimal(r.efficiency, 4), std::to_string(r.load.unused_experts), std::to_string(r.load.active_experts),
      boolean(r.verified),
      // Unchecked results have no verdict and no error: empty, not "false".
      r.verified ? boolean(r.verify_passed) : "", r.verified ? general(r.verify_error) : "",
      std::to_string(r.verify_tokens), std::to_string(r.unwritten_outputs), std::to_string(r.peak_memory_bytes), csv_field(r.launch),
      csv_field(counters(r)), csv_field(r.fp8_scaling), std::isfinite(r.fp8_vs_bf16_error) ? general(r.fp8_vs_bf16_error) : "",
  };
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line += ',';
    line += fields[i];
  }
  return line + "\n";
}

}  // namespace

std::string layer_results_csv(const std::vector<LayerResult>& results, const LayerReportContext& /*context*/) {
  std::string out = kHeader;
  for (const LayerResult& r : results) out += row(r);
  return out;
}

}  // namespace moebench
