// The tracker output format: SGLang's success_results.json and failure_results.json (seed 002),
// {"model::config": entry}: of the records given, oldest first, the latest success of each key,
// and the latest failure of each key that has no success (a later success clears a failure, a
// later failure does not replace a success).
#include <memory>

#include <nlohmann/json.hpp>

#include "bench/model_records.hpp"
#include "bench/result_writer.hpp"
#include "results/timestamps.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

std::string dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n"; }

// {"model", "config", params..., metrics..., "last_updated"}; a `model` run's entry has the
// tracker's own fields alone, under its names, so that scripts written for its files read ours;
// the rest of the record is in the json and csv formats.
json success_entry(const RunRecord& r) {
  json entry = {{"model", r.model}, {"config", r.config}};
  if (r.kind == "model") {
    for (const auto& [field, name] : seed002_model_fields())
      entry[field] = r.params.contains(name) ? r.params[name] : r.metrics.value(name, json(nullptr));
  } else {
    for (const auto& [k, v] : r.params.items()) entry[k] = v;
    for (const auto& [k, v] : r.metrics.items()) entry[k] = v;
  }
  entry["last_updated"] = seed_local_time(r.finished_at);
  return entry;
}

json failure_entry(const RunRecord& r) {
  return {{"model", r.model},
          {"config", r.config},
          {"error_message", r.error_message},
          {"error_type", r.error_type},
          {"last_updated", seed_local_time(r.finished_at)}};
}

class TrackerWriter : public ResultWriter {
 public:
  std::vector<std::string> write(const std::vector<RunRecord>& records, const WriterContext&) const override {
    json successes = json::object(), failures = json::object();
    for (const RunRecord& r : records) {
      if (r.status == RunStatus::success) successes[r.key()] = success_entry(r);
      else failures[r.key()] = failure_entry(r);
    }
    for (const auto& [key, entry] : successes.items()) failures.erase(key);
    return {dump(successes), dump(failures)};
  }
};

}  // namespace

std::shared_ptr<const ResultWriter> make_tracker_writer() { return std::make_shared<TrackerWriter>(); }

}  // namespace moebench
