#include "bench/model_records.hpp"

#include <cmath>

#include "results/config_key.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

// JSON has no NaN: an unknown figure (no copy bandwidth, so no floor) is null.
json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json stats_json(const LatencyStats& s) {
  return {{"count", s.count}, {"mean", s.mean}, {"std", s.std}, {"p50", s.p50}, {"p95", s.p95},
          {"p99", s.p99},     {"min", s.min},   {"max", s.max}};
}

// Seed 002's four figures first (latency_s is the whole generation, prefill and decode, as in
// seed 001's batch sweep), then ours. Names are SGLang's bench_serving / bench_one_batch names
// where it has one, ending in their unit so that `results compare` knows which way is better;
// decode_efficiency (TPOT floor / TPOT) is better higher. README.md's table lists them all.
json model_metrics_json(const BatchResult& b) {
  const ModelMetrics& m = b.metrics;
  return {{"latency_s", number(m.e2e_ms.mean / 1e3)},
          {"input_throughput_tok_per_s", number(m.prefill_tok_per_sec)},
          {"output_throughput_tok_per_s", number(m.decode_tok_per_sec)},
          {"mean_itl_ms", number(m.itl_ms.mean)},
          {"mean_ttft_ms", number(m.ttft_ms.mean)},
          {"std_ttft_ms", number(m.ttft_ms.std)},
          {"mean_tpot_ms", number(m.tpot_ms.mean)},
          {"std_tpot_ms", number(m.tpot_ms.std)},
          {"tpot_floor_ms", number(b.tpot_floor_ms)},
          {"decode_efficiency", number(b.tpot_floor_ms / m.tpot_ms.mean)},
          {"median_itl_ms", number(m.itl_ms.p50)},
          {"p99_itl_ms", number(m.itl_ms.p99)},
          {"per_sample_output_throughput_tok_per_s", number(m.decode_tok_per_sec_per_sample)},
          {"e2e_throughput_tok_per_s", number(m.e2e_tok_per_sec)},
          {"per_sample_e2e_throughput_tok_per_s", number(m.e2e_tok_per_sec_per_sample)},
          {"measured_memory_bytes", b.memory.measured_bytes},
          {"predicted_memory_bytes", b.memory.predicted_bytes}};
}

std::string batch_config(const ModelRunOptions& o, int64_t batch) {
  return model_config_key(o.tp_size, o.ep_size, o.moe_impl, batch, o.input_len, o.output_len,
                          dtype_name(o.decoder.dtype), truncated_layers(o.decoder));
}

RunRecord batch_record(const ModelRunOptions& o, const RecordContext& context, int64_t batch) {
  RunRecord r = new_record(context, "model", o.decoder.model.name, batch_config(o, batch));
  r.params = model_params(batch, o.input_len, o.output_len, dtype_name(o.decoder.dtype), o.moe_impl, o.tp_size,
                          o.ep_size, truncated_layers(o.decoder));
  return r;
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& seed002_model_fields() {
  static const std::vector<std::pair<std::string, std::string>> fields = {
      {"batch_size", "batch_size"},
      {"input_len", "input_len"},
      {"output_len", "output_len"},
      {"latency_s", "latency_s"},
      {"input_throughput_tok_per_s", "input_throughput_tok_per_s"},
      {"output_throughput_tok_per_s", "output_throughput_tok_per_s"},
      {"itl_ms", "mean_itl_ms"}};
  return fields;
}

int truncated_layers(const DecoderConfig& d) { return d.model.num_layers < d.full_layers ? d.model.num_layers : 0; }

nlohmann::ordered_json model_params(int64_t batch_size, int64_t input_len, int64_t output_len,
                                    const std::string& dtype, const std::string& moe_impl, int tp_size, int ep_size,
                                    int num_layers) {
  json p = {{"batch_size", batch_size}, {"input_len", input_len}, {"output_len", output_len}, {"dtype", dtype},
            {"moe_impl", moe_impl},     {"tp_size", tp_size},     {"ep_size", ep_size}};
  if (num_layers > 0) p["num_layers"] = num_layers;
  return p;
}

nlohmann::ordered_json model_run_details(const ModelResult& r) {
  return {{"model", r.model},
          {"layers", r.layers},
          {"full_layers", r.full_layers},
          {"notes", r.notes},
          {"device", r.device},
          {"backend", r.backend},
          {"dtype", r.dtype},
          {"moe_impl", r.moe_impl},
          {"input_len", r.input_len},
          {"output_len", r.output_len},
          {"prefill_chunk", r.prefill_chunk},
          {"warmup_runs", r.warmup_runs},
          {"benchmark_runs", r.benchmark_runs},
          {"seed", r.seed},
          {"command_line", r.command_line},
          {"world_size", r.tp_size},
          {"moe_tp_size", r.tp_size / r.ep_size},
          {"communicator", r.communicator.empty() ? "none" : r.communicator},
          {"copy_gbps", number(r.ceilings.copy_gbps)},
          {"startup_ms",
           {{"ceilings", r.ceilings_ms}, {"weight_init", r.weight_init_ms}, {"moe_prepare", r.moe_prepare_ms}}}};
}

nlohmann::ordered_json model_batch_details(const BatchResult& b) {
  json j = {{"batch_size", b.batch_size}, {"status", b.status_name()}};
  if (!b.failure.empty()) j["failure"] = b.failure_text();
  json predicted = json::array();
  for (const MemoryLine& l : b.memory.predicted.lines)
    predicted.push_back({{"key", l.key}, {"bytes", l.bytes}, {"estimate", l.estimate}});
  j["memory"] = {{"predicted_bytes", b.memory.predicted_bytes}, {"predicted_lines", predicted}};
  if (b.status != BatchResult::Status::ok) return j;
  const ModelMetrics& m = b.metrics;
  json runs = json::array();
  for (const ModelRunTimes& t : b.runs)
    runs.push_back({{"ttft_ms", t.ttft_ms}, {"decode_ms", t.decode_ms}, {"step_ms", t.step_ms}});
  j["runs"] = runs;
  j["ttft_ms"] = stats_json(m.ttft_ms);
  j["tpot_ms"] = stats_json(m.tpot_ms);
  j["itl_ms"] = stats_json(m.itl_ms);
  j["e2e_ms"] = stats_json(m.e2e_ms);
  j["last_tokens"] = b.last_tokens;
  j["decode_launch"] = b.decode_launch;
  j["kv_alloc_ms"] = b.kv_alloc_ms;
  j["graph_capture_ms"] = b.graph_capture_ms;
  j["active_experts"] = b.active_experts;
  j["tpot_floor_ms"] = number(b.tpot_floor_ms);
  j["floor_bytes"] = {{"weights", b.floor_bytes.weights},
                      {"routed_experts", b.floor_bytes.routed_experts},
                      {"kv_cache", b.floor_bytes.kv_cache},
                      {"context", b.floor_context}};
  const ModelMemory& mem = b.memory;
  j["memory"].update({{"weights", mem.weights},
                      {"kv_cache", mem.kv_cache},
                      {"activations", mem.activations},
                      {"graphs", mem.graphs},
                      {"device_total", mem.device_total},
                      {"device_free", mem.device_free},
                      {"measured_bytes", mem.measured_bytes},
                      {"measured_source", mem.measured_source},
                      {"difference", mem.difference()}});
  return j;
}

nlohmann::ordered_json model_rank_details(const BatchResult& b) {
  json ranks = json::array();
  for (const RankBatchFigures& f : b.ranks)
    ranks.push_back({{"rank", f.rank},
                     {"mean_ttft_ms", f.mean_ttft_ms},
                     {"mean_tpot_ms", f.mean_tpot_ms},
                     {"weights", f.weights},
                     {"kv_cache", f.kv_cache},
                     {"activations", f.activations},
                     {"measured_bytes", f.measured_bytes},
                     {"device_free", f.device_free},
                     {"last_tokens", f.last_tokens}});
  return ranks;
}

std::vector<RunRecord> model_records(const ModelRunOptions& o, const ModelResult& result,
                                     const RecordContext& context) {
  const json shared = model_run_details(result);
  std::vector<RunRecord> records;
  for (const BatchResult& b : result.batches) {
    RunRecord r = batch_record(o, context, b.batch_size);
    r.details = shared;
    r.details["batch"] = model_batch_details(b);
    if (!b.ranks.empty()) r.details["ranks"] = model_rank_details(b);
    if (b.status == BatchResult::Status::ok) {
      r.metrics = model_metrics_json(b);
    } else {
      set_failure(r, b.failure_kind, b.failure);
    }
    records.push_back(std::move(r));
  }
  return records;
}

std::vector<RunRecord> model_failure_records(const ModelRunOptions& o, const RecordContext& context,
                                             FailureKind kind, const std::string& message) {
  std::vector<RunRecord> records;
  for (int64_t batch : o.batch_sizes) {
    RunRecord r = batch_record(o, context, batch);
    r.details = {{"layers", o.decoder.model.num_layers},
                 {"full_layers", o.decoder.full_layers},
                 {"prefill_chunk", o.prefill_chunk},
                 {"warmup_runs", o.warmup_runs},
                 {"benchmark_runs", o.benchmark_runs},
                 {"seed", o.seed}};
    set_failure(r, kind, message);
    records.push_back(std::move(r));
  }
  return records;
}

}  // namespace moebench
