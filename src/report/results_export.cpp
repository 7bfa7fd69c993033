// The machine-readable exports of stored runs: CSV, JSON, and seed 002's two tracker files.
#include <fmt/format.h>

#include "core/csv_field.hpp"
#include "report/results_writers.hpp"
#include "bench/model_records.hpp"
#include "results/timestamps.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

std::string dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n"; }

std::string csv_value(const json& object, const std::string& key) {
  if (!object.contains(key) || object[key].is_null()) return "";
  const json& v = object[key];
  if (v.is_number_float()) return fmt::format("{:.9g}", v.get<double>());
  return csv_field(v.is_string() ? v.get<std::string>() : v.dump());
}

json environment_json(const RunEnvironment& e) {
  return {{"host", e.host},
          {"backend", e.backend},
          {"device", e.device},
          {"driver_version", e.driver_version},
          {"cuda_version", e.cuda_version},
          {"moebench_version", e.moebench_version},
          {"git_revision", e.git_revision}};
}

}  // namespace

std::string results_csv(const std::vector<RunRecord>& records) {
  const std::vector<std::string> params = param_keys(records);
  const std::vector<std::string> metrics = metric_keys(records);
  std::string out =
      "id,kind,model,config,status,error_type,error_message,started_at,finished_at,host,backend,device,"
      "driver_version,cuda_version,moebench_version,git_revision,group_id,command_line";
  // Appending piece by piece: GCC 12 warns falsely (-Wrestrict) on "," + std::string.
  auto field = [&out](const std::string& text) {
    out += ',';
    out += text;
  };
  for (const std::string& k : params) field(csv_field(k));
  for (const std::string& k : metrics) field(csv_field(k));
  out += "\n";
  for (const RunRecord& r : records) {
    const RunEnvironment& e = r.environment;
    out += fmt::format("{}", r.id);
    for (const std::string* s : {&r.kind, &r.model, &r.config}) field(csv_field(*s));
    field(run_status_name(r.status));
    for (const std::string* s : {&r.error_type, &r.error_message, &r.started_at, &r.finished_at, &e.host, &e.backend,
                                 &e.device, &e.driver_version, &e.cuda_version, &e.moebench_version, &e.git_revision,
                                 &r.group_id, &r.command_line})
      field(csv_field(*s));
    for (const std::string& k : params) field(csv_value(r.params, k));
    for (const std::string& k : metrics) field(csv_value(r.metrics, k));
    out += "\n";
  }
  return out;
}

std::string results_json(const std::vector<RunRecord>& records) {
  json list = json::array();
  for (const RunRecord& r : records)
    list.push_back({{"id", r.id},
                    {"kind", r.kind},
                    {"model", r.model},
                    {"config", r.config},
                    {"status", run_status_name(r.status)},
                    {"error_type", r.error_type},
                    {"error_message", r.error_message},
                    {"params", r.params},
                    {"metrics", r.metrics},
                    {"details", r.details},
                    {"environment", environment_json(r.environment)},
                    {"command_line", r.command_line},
                    {"group_id", r.group_id},
                    {"started_at", r.started_at},
                    {"finished_at", r.finished_at}});
  return dump(list);
}

std::string seed_success_json(const std::vector<RunRecord>& successes) {
  json doc = json::object();
  for (const RunRecord& r : successes) {
    json entry = {{"model", r.model}, {"config", r.config}};
    if (r.kind == "model") {
      // Seed 002's own kind of entry: exactly its fields, so that scripts written for its
      // files read ours; the rest of the record is in the JSON and CSV exports.
      for (const std::string& k : seed002_model_fields())
        entry[k] = r.params.contains(k) ? r.params[k] : r.metrics.value(k, json(nullptr));
    } else {
      for (const auto& [k, v] : r.params.items()) entry[k] = v;
      for (const auto& [k, v] : r.metrics.items()) entry[k] = v;
    }
    entry["last_updated"] = seed_local_time(r.finished_at);
    doc[r.key()] = entry;
  }
  return dump(doc);
}

std::string seed_failure_json(const std::vector<RunRecord>& failures) {
  json doc = json::object();
  for (const RunRecord& r : failures)
    doc[r.key()] = {{"model", r.model},
                    {"config", r.config},
                    {"error_message", r.error_message},
                    {"error_type", r.error_type},
                    {"last_updated", seed_local_time(r.finished_at)}};
  return dump(doc);
}

}  // namespace moebench
