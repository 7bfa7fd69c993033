// The CSV and Markdown tables of any records: fixed columns, then the union of their params and
// metrics, so that records of different kinds and versions share one table.
#include "bench/record_tables.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/csv_field.hpp"
#include "core/text_table.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

std::vector<std::string> union_keys(const std::vector<RunRecord>& records, json RunRecord::*field) {
  std::vector<std::string> keys;
  for (const RunRecord& r : records)
    for (const auto& [key, value] : (r.*field).items())
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  return keys;
}

std::string csv_value(const json& object, const std::string& key) {
  if (!object.contains(key) || object[key].is_null()) return "";
  const json& v = object[key];
  if (v.is_number_float()) return fmt::format("{:.9g}", v.get<double>());
  return csv_field(v.is_string() ? v.get<std::string>() : v.dump());
}

std::string value_or_dash(const json& object, const std::string& key) {
  return object.contains(key) ? record_cell(object[key]) : "-";
}

}  // namespace

std::vector<std::string> param_keys(const std::vector<RunRecord>& records) {
  return union_keys(records, &RunRecord::params);
}

std::vector<std::string> metric_keys(const std::vector<RunRecord>& records) {
  return union_keys(records, &RunRecord::metrics);
}

std::string records_csv(const std::vector<RunRecord>& records) {
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

std::string records_markdown(const std::vector<RunRecord>& records) {
  std::vector<std::string> models;
  for (const RunRecord& r : records)
    if (std::find(models.begin(), models.end(), r.model) == models.end()) models.push_back(r.model);
  std::string out;
  for (const std::string& model : models) {
    std::vector<RunRecord> group;
    for (const RunRecord& r : records)
      if (r.model == model) group.push_back(r);
    const std::vector<std::string> params = param_keys(group);
    const std::vector<std::string> metrics = metric_keys(group);
    TextTable t;
    t.header = {"config", "status"};
    t.header.insert(t.header.end(), params.begin(), params.end());
    t.header.insert(t.header.end(), metrics.begin(), metrics.end());
    t.header.push_back("error");
    t.numeric.assign(t.header.size(), false);
    for (size_t c = 2 + params.size(); c < 2 + params.size() + metrics.size(); ++c) t.numeric[c] = true;
    for (const RunRecord& r : group) {
      std::vector<std::string> row = {r.config, run_status_name(r.status)};
      for (const std::string& k : params) row.push_back(value_or_dash(r.params, k));
      for (const std::string& k : metrics) row.push_back(value_or_dash(r.metrics, k));
      row.push_back(r.status == RunStatus::success ? "" : r.error_type + ": " + r.error_message);
      t.rows.push_back(std::move(row));
    }
    out += fmt::format("{}## {}\n\n{}", out.empty() ? "" : "\n", model, format_markdown(t));
  }
  return out;
}

std::string record_cell(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) {
    const double v = value.get<double>();
    return format_figure(&v);
  }
  return value.dump();
}

}  // namespace moebench
