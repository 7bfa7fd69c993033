#pragma once
// Records and scratch databases for the results store tests.
#include <filesystem>
#include <string>

#include "results/run_record.hpp"
#include "unit/cli_runner.hpp"

namespace moebench::testing {

inline RunRecord layer_record(const std::string& model, const std::string& config, double mean_ms) {
  RunRecord r;
  r.kind = "layer";
  r.model = model;
  r.config = config;
  r.params = {{"num_tokens", 128}, {"scenario", "random"}};
  r.metrics = {{"latency_mean_ms", mean_ms}, {"throughput_tok_per_s", 128 / mean_ms * 1e3}};
  r.environment.backend = "cpu";
  r.environment.device = "test cpu";
  r.command_line = "moebench layer";
  r.group_id = "test";
  return r;
}

inline RunRecord failure_record(const std::string& model, const std::string& config, const std::string& type,
                                const std::string& message) {
  RunRecord r = layer_record(model, config, 0);
  r.metrics = nlohmann::ordered_json::object();
  r.status = RunStatus::failure;
  r.error_type = type;
  r.error_message = message;
  return r;
}

// A path for a new database in a fresh directory.
inline std::string fresh_db_path(const std::string& tag) { return (fresh_temp_dir(tag) / "results.db").string(); }

}  // namespace moebench::testing
