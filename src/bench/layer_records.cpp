#include "bench/layer_records.hpp"

#include <cmath>

#include <fmt/format.h>

#include "results/config_key.hpp"
#include "routing/scenarios.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

// JSON has no NaN: an unknown figure (a roofline without ceilings) is null.
json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// Metric names end in their unit so that `results compare` knows which way is better.
json layer_metrics(const LayerResult& r) {
  const LatencyStats& l = r.latency_ms;
  return {
      {"latency_mean_ms", number(l.mean)}, {"latency_std_ms", number(l.std)},
      {"latency_p50_ms", number(l.p50)},   {"latency_p95_ms", number(l.p95)},
      {"latency_p99_ms", number(l.p99)},   {"latency_min_ms", number(l.min)},
      {"latency_max_ms", number(l.max)},   {"throughput_tok_per_s", number(r.throughput_tok_per_sec)},
      {"tflops", number(r.tflops)},        {"gbps", number(r.gbps)},
      {"floor_ms", number(r.floor_ms)},    {"efficiency", number(r.efficiency)},
      {"verify_error", number(r.verify_error)},
  };
}

json row_details(const LayerResult& r, const json& shared) {
  json d = shared;
  d["launch"] = r.launch;
  d["peak_memory_bytes"] = r.peak_memory_bytes;
  d["load"] = {{"max_load", r.load.max_load},
               {"min_load", r.load.min_load},
               {"avg_load", number(r.load.avg_load)},
               {"max_imbalance", number(r.load.max_imbalance)},
               {"active_experts", r.load.active_experts},
               {"expert_loads", r.load.expert_loads}};
  json counters = json::object();
  for (const auto& [name, value] : r.counters) counters[name] = number(value);
  d["counters"] = counters;
  return d;
}

}  // namespace

nlohmann::ordered_json layer_params(const std::string& impl, const std::string& scenario, int64_t num_tokens,
                                    const std::string& dtype, int tp_size, int ep_size) {
  return {{"impl", impl},   {"scenario", scenario}, {"num_tokens", num_tokens},
          {"dtype", dtype}, {"tp_size", tp_size},   {"ep_size", ep_size}};
}

nlohmann::ordered_json layer_run_details(const LayerRunOptions& o, const Ceilings& ceilings) {
  return {{"num_experts", o.model.num_experts},
          {"top_k", o.model.top_k},
          {"hidden_size", o.model.hidden_size},
          {"intermediate_size", o.model.moe_intermediate_size},
          {"num_shared_experts", o.model.num_shared_experts},
          {"shared_intermediate_size", o.model.shared_intermediate_size},
          {"imbalance_factor", o.imbalance_factor},
          {"warmup_iters", o.warmup_iters},
          {"benchmark_iters", o.benchmark_iters},
          {"seed", o.seed},
          {"copy_gbps", number(ceilings.copy_gbps)},
          {"gemm_tflops", number(ceilings.gemm_tflops)}};
}

std::vector<RunRecord> layer_records(const std::vector<LayerResult>& results, const RecordContext& context,
                                     const nlohmann::ordered_json& details) {
  std::vector<RunRecord> records;
  for (const LayerResult& r : results) {
    RunRecord rec = new_record(context, "layer", r.model,
                               layer_config_key(r.tp_size, r.ep_size, r.impl, r.scenario, r.num_tokens, r.dtype));
    rec.params = layer_params(r.impl, r.scenario, r.num_tokens, r.dtype, r.tp_size, r.ep_size);
    rec.metrics = layer_metrics(r);
    rec.details = row_details(r, details);
    if (r.verified && !r.verify_passed) {
      set_failure(rec, FailureKind::VerificationFailed,
                  r.unwritten_outputs > 0
                      ? fmt::format("{} output elements never written", r.unwritten_outputs)
                      : fmt::format("relative error {:.2e} against the fp64 reference (limit 2e-2)", r.verify_error));
    }
    records.push_back(std::move(rec));
  }
  return records;
}

std::vector<RunRecord> layer_failure_records(const LayerRunOptions& options, const std::vector<std::string>& impls,
                                             const RecordContext& context, const nlohmann::ordered_json& details,
                                             FailureKind kind, const std::string& message) {
  const std::string dtype = dtype_name(options.dtype);
  std::vector<RunRecord> records;
  for (Scenario s : options.scenarios)
    for (int64_t tokens : options.num_tokens)
      for (const std::string& impl : impls) {
        RunRecord rec = new_record(
            context, "layer", options.model.name,
            layer_config_key(options.tp_size, options.ep_size, impl, scenario_name(s), tokens, dtype));
        rec.params = layer_params(impl, scenario_name(s), tokens, dtype, options.tp_size, options.ep_size);
        rec.details = details;
        set_failure(rec, kind, message);
        records.push_back(std::move(rec));
      }
  return records;
}

}  // namespace moebench
