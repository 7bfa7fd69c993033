#include "bench/layer_records.hpp"

#include <cmath>

#include <fmt/format.h>

#include "bench/verify.hpp"
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
      {"verify_rel_error", number(r.verify_error)},
  };
}

// fp8 runs add what fp8 costs: the error against the bf16 model's fp64 output.
json layer_run_metrics(const LayerResult& r) {
  json m = layer_metrics(r);
  if (std::isfinite(r.fp8_vs_bf16_error)) m["fp8_vs_bf16_rel_error"] = r.fp8_vs_bf16_error;
  return m;
}

// The dtype part of a config key: fp8 with channel or tensor scaling is another configuration
// than fp8 with block scaling (the default, "fp8").
std::string dtype_key(const std::string& dtype, const std::string& fp8_scaling) {
  return fp8_scaling.empty() || fp8_scaling == "block" ? dtype : dtype + "-" + fp8_scaling;
}

double tolerance_of(const std::string& dtype) {
  if (dtype == "fp8") return verify_tolerance(DType::fp8);
  return verify_tolerance(DType::bf16);
}

json row_details(const LayerResult& r, const json& shared) {
  json d = shared;
  d["launch"] = r.launch;
  d["peak_memory_bytes"] = r.peak_memory_bytes;
  d["iterations"] = r.latency_ms.count;
  d["flops"] = number(r.flops);
  d["bytes_min"] = number(r.bytes_min);
  d["verify"] = {{"checked", r.verified},
                 {"passed", r.verify_passed},
                 {"tokens", r.verify_tokens},
                 {"unwritten_outputs", r.unwritten_outputs}};
  d["load"] = {{"max_load", r.load.max_load},
               {"min_load", r.load.min_load},
               {"avg_load", number(r.load.avg_load)},
               {"max_imbalance", number(r.load.max_imbalance)},
               {"unused_experts", r.load.unused_experts},
               {"active_experts", r.load.active_experts},
               {"expert_loads", r.load.expert_loads}};
  json counters = json::object();
  for (const auto& [name, value] : r.counters) counters[name] = number(value);
  d["counters"] = counters;
  return d;
}

double number_at(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : NAN;
}

template <typename T>
T value_at(const json& object, const char* key, T fallback) {
  auto it = object.find(key);
  return it != object.end() && !it->is_null() ? it->get<T>() : fallback;
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
          {"imbalance_factor", o.scenario_params.imbalance_factor},
          {"zipf_exponent", o.scenario_params.zipf_exponent},
          {"hot_experts", hot_expert_count(o.model, o.scenario_params)},
          {"hot_share", o.scenario_params.hot_share},
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
                               layer_config_key(r.tp_size, r.ep_size, r.impl, r.scenario, r.num_tokens,
                                                dtype_key(r.dtype, r.fp8_scaling)));
    rec.params = layer_params(r.impl, r.scenario, r.num_tokens, r.dtype, r.tp_size, r.ep_size);
    if (!r.fp8_scaling.empty()) rec.params["fp8_scaling"] = r.fp8_scaling;
    rec.metrics = layer_run_metrics(r);
    rec.details = row_details(r, details);
    if (r.verified && !r.verify_passed) {
      set_failure(rec, FailureKind::VerificationFailed,
                  r.unwritten_outputs > 0
                      ? fmt::format("{} output elements never written", r.unwritten_outputs)
                      : fmt::format("relative error {:.2e} against the fp64 reference (limit {:.0e})", r.verify_error,
                                    tolerance_of(r.dtype)));
    }
    records.push_back(std::move(rec));
  }
  return records;
}

std::vector<RunRecord> layer_failure_records(const LayerRunOptions& options, const std::vector<std::string>& impls,
                                             const RecordContext& context, const nlohmann::ordered_json& details,
                                             FailureKind kind, const std::string& message) {
  std::vector<LayerCaseFailure> failures;
  for (const LayerCase& c : layer_cases(options))
    for (const std::string& impl : impls) failures.push_back({impl, c.label, c.num_tokens, kind, message});
  return layer_failure_records(options, failures, context, details);
}

std::vector<RunRecord> layer_failure_records(const LayerRunOptions& options,
                                             const std::vector<LayerCaseFailure>& failures,
                                             const RecordContext& context, const nlohmann::ordered_json& details) {
  const std::string dtype = dtype_name(options.dtype);
  const std::string scaling = options.dtype == DType::fp8 ? fp8_scaling_name(options.fp8_scaling) : "";
  std::vector<RunRecord> records;
  for (const LayerCaseFailure& f : failures) {
    const std::string& scenario = f.scenario;
    RunRecord rec = new_record(context, "layer", options.model.name,
                               layer_config_key(options.tp_size, options.ep_size, f.impl, scenario, f.num_tokens,
                                                dtype_key(dtype, scaling)));
    rec.params = layer_params(f.impl, scenario, f.num_tokens, dtype, options.tp_size, options.ep_size);
    if (!scaling.empty()) rec.params["fp8_scaling"] = scaling;
    rec.details = details;
    set_failure(rec, f.kind, f.message);
    records.push_back(std::move(rec));
  }
  return records;
}

LayerResult layer_result_from_record(const RunRecord& rec) {
  const json& p = rec.params;
  const json& m = rec.metrics;
  const json& d = rec.details;
  const json load = d.value("load", json::object());
  const json verify = d.value("verify", json::object());
  LayerResult r;
  r.model = rec.model;
  r.impl = value_at<std::string>(p, "impl", "");
  r.scenario = value_at<std::string>(p, "scenario", "");
  r.backend = rec.environment.backend;
  r.device = rec.environment.device;
  r.dtype = value_at<std::string>(p, "dtype", "");
  r.fp8_scaling = value_at<std::string>(p, "fp8_scaling", "");
  r.num_tokens = value_at<int64_t>(p, "num_tokens", 0);
  r.ep_size = value_at<int>(p, "ep_size", 1);
  r.tp_size = value_at<int>(p, "tp_size", 1);
  r.num_experts = value_at<int>(d, "num_experts", 0);
  r.top_k = value_at<int>(d, "top_k", 0);
  r.hidden_size = value_at<int64_t>(d, "hidden_size", 0);
  r.intermediate_size = value_at<int64_t>(d, "intermediate_size", 0);
  r.num_shared_experts = value_at<int>(d, "num_shared_experts", 0);
  r.latency_ms = {value_at<int>(d, "iterations", 0), number_at(m, "latency_mean_ms"), number_at(m, "latency_std_ms"),
                  number_at(m, "latency_p50_ms"),    number_at(m, "latency_p95_ms"),  number_at(m, "latency_p99_ms"),
                  number_at(m, "latency_min_ms"),    number_at(m, "latency_max_ms")};
  r.throughput_tok_per_sec = number_at(m, "throughput_tok_per_s");
  r.load.max_load = value_at<int64_t>(load, "max_load", 0);
  r.load.min_load = value_at<int64_t>(load, "min_load", 0);
  r.load.avg_load = number_at(load, "avg_load");
  r.load.max_imbalance = number_at(load, "max_imbalance");
  r.load.unused_experts = value_at<int>(load, "unused_experts", 0);
  r.load.active_experts = value_at<int>(load, "active_experts", 0);
  r.load.expert_loads = value_at<std::vector<int64_t>>(load, "expert_loads", {});
  r.flops = number_at(d, "flops");
  r.bytes_min = number_at(d, "bytes_min");
  r.tflops = number_at(m, "tflops");
  r.gbps = number_at(m, "gbps");
  r.floor_ms = number_at(m, "floor_ms");
  r.efficiency = number_at(m, "efficiency");
  r.verified = value_at<bool>(verify, "checked", false);
  r.verify_passed = value_at<bool>(verify, "passed", false);
  r.verify_error = number_at(m, "verify_rel_error");
  r.fp8_vs_bf16_error = number_at(m, "fp8_vs_bf16_rel_error");
  r.verify_tokens = value_at<int64_t>(verify, "tokens", 0);
  r.unwritten_outputs = value_at<int64_t>(verify, "unwritten_outputs", 0);
  r.peak_memory_bytes = value_at<int64_t>(d, "peak_memory_bytes", 0);
  r.launch = value_at<std::string>(d, "launch", "eager");
  const json counters = d.value("counters", json::object());
  for (const auto& [name, value] : counters.items())
    r.counters.emplace_back(name, value.is_number() ? value.get<double>() : NAN);
  return r;
}

std::vector<LayerResult> measured_layer_results(const std::vector<RunRecord>& records) {
  std::vector<LayerResult> results;
  for (const RunRecord& r : records)
    if (!r.metrics.empty()) results.push_back(layer_result_from_record(r));
  return results;
}

LayerReportContext layer_context_from_records(const std::vector<RunRecord>& records) {
  LayerReportContext c;
  if (records.empty()) return c;
  const RunRecord& first = records.front();
  const LayerResult r = layer_result_from_record(first);
  c.model = first.model;
  c.num_experts = r.num_experts;
  c.top_k = r.top_k;
  c.hidden_size = r.hidden_size;
  c.intermediate_size = r.intermediate_size;
  c.ep_size = r.ep_size;
  c.tp_size = r.tp_size;
  c.dtype = r.dtype;
  c.backend = first.environment.backend;
  c.device = first.environment.device;
  c.moebench_version = fmt::format("{} ({})", first.environment.moebench_version, first.environment.git_revision);
  c.date = first.started_at.substr(0, 10);  // the UTC date of "2025-11-27T23:45:12Z"
  c.copy_gbps = number_at(first.details, "copy_gbps");
  c.gemm_tflops = number_at(first.details, "gemm_tflops");
  c.command_line = first.command_line;
  return c;
}

}  // namespace moebench
