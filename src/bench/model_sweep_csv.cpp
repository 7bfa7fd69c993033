// The batch-sweep CSV of a `moebench model` run, from its records (one per batch size): seed
// 001's columns, named as the metrics are everywhere else.
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench/model_report.hpp"
#include "core/csv_field.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

// Metric columns and their decimals, in seed 001's order.
const std::vector<std::pair<const char*, int>> kMetricColumns = {
    {"latency_s", 4},    {"input_throughput_tok_per_s", 2}, {"output_throughput_tok_per_s", 2},
    {"mean_itl_ms", 3},  {"mean_ttft_ms", 3},               {"mean_tpot_ms", 3},
    {"tpot_floor_ms", 3}};

std::string integer_param(const RunRecord& r, const char* key) {
  return r.params.contains(key) ? r.params[key].dump() : "";
}

}  // namespace

std::string model_sweep_csv(const std::vector<RunRecord>& records) {
  std::string out = "batch_size,input_len,output_len,status";
  for (const auto& [name, decimals] : kMetricColumns) out += fmt::format(",{}", name);
  out += ",decode_launch\n";
  for (const RunRecord& r : records) {
    const json batch = r.details.value("batch", json::object());
    const bool ran = r.status == RunStatus::success;
    out += fmt::format("{},{},{},{}", integer_param(r, "batch_size"), integer_param(r, "input_len"),
                       integer_param(r, "output_len"), csv_field(ran ? "ok" : batch.value("status", "failed")));
    for (const auto& [name, decimals] : kMetricColumns) {
      const json v = r.metrics.value(name, json(nullptr));
      out += ran && v.is_number() && std::isfinite(v.get<double>()) ? fmt::format(",{:.{}f}", v.get<double>(), decimals)
                                                                    : ",";
    }
    out += fmt::format(",{}\n", ran ? csv_field(batch.value("decode_launch", "")) : "");
  }
  return out;
}

}  // namespace moebench
