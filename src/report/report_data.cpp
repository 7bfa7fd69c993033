#include "report/report_data.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

using json = nlohmann::ordered_json;

namespace {

bool parses_as(const std::string& text, const char* format) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), format, &tm);
  return end && *end == '\0';
}

// Stored timestamps are ISO-8601 UTC, so text order is time order, and a date compares as
// the start of its day.
bool since_ok(const RunRecord& r, const std::string& since) {
  const std::string& when = r.finished_at.empty() ? r.started_at : r.finished_at;
  return since.empty() || when >= since;
}

double number_or(const json& object, const char* key, double fallback) {
  auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : fallback;
}

int64_t integer_or(const json& object, const char* key, int64_t fallback) {
  auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<int64_t>() : fallback;
}

std::string text_or(const json& object, const char* key, const std::string& fallback) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// The fields of a stored layer row (results/layer_records.cpp): params, metrics, details.load.
LayerRow layer_row(const RunRecord& r) {
  LayerRow row;
  row.model = r.model;
  row.impl = text_or(r.params, "impl", "?");
  row.scenario = text_or(r.params, "scenario", "?");
  row.dtype = text_or(r.params, "dtype", "");
  row.device = r.environment.device;
  row.num_tokens = integer_or(r.params, "num_tokens", 0);
  row.tp_size = int(integer_or(r.params, "tp_size", 1));
  row.ep_size = int(integer_or(r.params, "ep_size", 1));
  row.mean_ms = number_or(r.metrics, "latency_mean_ms", NAN);
  row.p50_ms = number_or(r.metrics, "latency_p50_ms", NAN);
  row.p95_ms = number_or(r.metrics, "latency_p95_ms", NAN);
  row.throughput_tok_per_s = number_or(r.metrics, "throughput_tok_per_s", NAN);
  const json load = r.details.value("load", json::object());
  row.max_imbalance = number_or(load, "max_imbalance", NAN);
  row.max_load = integer_or(load, "max_load", 0);
  row.min_load = integer_or(load, "min_load", 0);
  if (auto it = load.find("expert_loads"); it != load.end() && it->is_array())
    for (const json& v : *it)
      if (v.is_number()) row.expert_loads.push_back(v.get<int64_t>());
  return row;
}

}  // namespace

void validate_since(const std::string& text) {
  if (text.empty() || parses_as(text, "%Y-%m-%d") || parses_as(text, "%Y-%m-%dT%H:%M:%SZ")) return;
  throw InputError(fmt::format("--since '{}': give a UTC date or time, 2025-11-27 or 2025-11-27T23:45:12Z", text));
}

ReportData load_report_data(const ResultsStore& store, const ReportFilter& filter) {
  validate_since(filter.since);
  RunFilter query;
  query.model = filter.model;
  query.kind = filter.kind;

  ReportData data;
  std::set<std::string> models, devices;
  const ResultsStore::TrackerSnapshot latest = store.latest_results(query);  // one snapshot of the store
  for (const RunRecord& r : latest.successes) {
    if (!since_ok(r, filter.since)) continue;
    if (r.kind == "layer") {
      LayerRow row = layer_row(r);
      if (!std::isfinite(row.mean_ms) || row.mean_ms <= 0) continue;  // nothing measured to show
      data.layers.push_back(std::move(row));
    } else if (r.kind == "model") {
      ModelRow row{r.model, r.config, integer_or(r.params, "batch_size", 0), int(integer_or(r.params, "tp_size", 1)),
                   number_or(r.metrics, "output_throughput_tok_per_s", NAN)};
      if (row.batch_size <= 0 || !std::isfinite(row.throughput_tok_per_s)) continue;
      data.models.push_back(std::move(row));
    } else {
      continue;
    }
    models.insert(r.model);
    devices.insert(r.environment.device);
  }
  for (const RunRecord& r : latest.failures) {
    if (!since_ok(r, filter.since)) continue;
    data.failures.push_back({r.model, r.config, r.error_type, r.error_message,
                             r.finished_at.empty() ? r.started_at : r.finished_at});
    models.insert(r.model);
  }
  if (data.layers.empty() && data.models.empty() && data.failures.empty())
    throw InputError(fmt::format("--results-db {}: no results{}: run moebench layer (or sweep) to record some",
                                 store.path(),
                                 filter.model.empty() && filter.kind.empty() && filter.since.empty()
                                     ? std::string()
                                     : " match --model/--kind/--since"));
  data.model_names.assign(models.begin(), models.end());
  data.devices.assign(devices.begin(), devices.end());
  return data;
}

}  // namespace moebench
