// JSON of layer results: one document with the run's context and every field of every result.
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/layer_writers.hpp"

namespace moebench {

namespace {

// ordered_json keeps fields in the order written here, the order a reader expects.
using json = nlohmann::ordered_json;

// JSON has no NaN or infinity: an unknown value is null.
json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json context_json(const LayerReportContext& c) {
  return {
      {"model", c.model},
      {"num_experts", c.num_experts},
      {"top_k", c.top_k},
      {"hidden_size", c.hidden_size},
      {"intermediate_size", c.intermediate_size},
      {"ep_size", c.ep_size},
      {"tp_size", c.tp_size},
      {"dtype", c.dtype},
      {"backend", c.backend},
      {"device", c.device},
      {"date", c.date},
      {"copy_gbps", number(c.copy_gbps)},
      {"gemm_tflops", number(c.gemm_tflops)},
      {"command_line", c.command_line},
  };
}

json result_json(const LayerResult& r) {
  const LatencyStats& l = r.latency_ms;
  json counters = json::object();
  for (const auto& [name, value] : r.counters) counters[name] = number(value);
  return {
      {"model", r.model},
      {"impl", r.impl},
      {"scenario", r.scenario},
      {"backend", r.backend},
      {"device", r.device},
      {"dtype", r.dtype},
      {"num_tokens", r.num_tokens},
      {"ep_size", r.ep_size},
      {"tp_size", r.tp_size},
      {"num_experts", r.num_experts},
      {"top_k", r.top_k},
      {"hidden_size", r.hidden_size},
      {"intermediate_size", r.intermediate_size},
      {"num_shared_experts", r.num_shared_experts},
      {"latency_ms",
       {{"mean", number(l.mean)},
        {"std", number(l.std)},
        {"p50", number(l.p50)},
        {"p95", number(l.p95)},
        {"p99", number(l.p99)},
        {"min", number(l.min)},
        {"max", number(l.max)},
        {"count", l.count}}},
      {"throughput_tok_per_sec", number(r.throughput_tok_per_sec)},
      {"load",
       {{"max_load", r.load.max_load},
        {"min_load", r.load.min_load},
        {"avg_load", number(r.load.avg_load)},
        {"max_imbalance", number(r.load.max_imbalance)},
        {"unused_experts", r.load.unused_experts},
        {"active_experts", r.load.active_experts},
        {"expert_loads", r.load.expert_loads}}},
      {"flops", number(r.flops)},
      {"bytes_min", number(r.bytes_min)},
      {"tflops", number(r.tflops)},
      {"gbps", number(r.gbps)},
      {"floor_ms", number(r.floor_ms)},
      {"efficiency", number(r.efficiency)},
      {"verified", r.verified},
      {"verify_passed", r.verify_passed},
      {"verify_error", number(r.verify_error)},
      {"verify_tokens", r.verify_tokens},
      {"unwritten_outputs", r.unwritten_outputs},
      {"peak_memory_bytes", r.peak_memory_bytes},
      {"launch", r.launch},
      {"counters", counters},
  };
}

}  // namespace

std::string layer_results_json(const std::vector<LayerResult>& results, const LayerReportContext& context) {
  json doc = {{"moebench_version", context.moebench_version}, {"context", context_json(context)}};
  json& list = doc["results"] = json::array();
  for (const LayerResult& r : results) list.push_back(result_json(r));
  // Names come from the user (a config path, a device string): bytes that are not UTF-8 are
  // replaced rather than failing the whole export.
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace moebench
