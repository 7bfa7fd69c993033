#pragma once
// One recorded run: what the results store keeps for every `layer` row, every `model` run and
// every `sweep`, successful or not (DESIGN.md: "result record -> store -> exports and reports").
//
// The pair (model, config) is seed 002's key "model::config": the latest success of a key is its
// success entry, and a key's latest failure is its failure entry only while the key has no
// success (results/tracker.hpp). `params` and `metrics` are flat JSON objects whose key order is
// kept: seed 002's success entry is {model, config, params..., metrics..., last_updated}.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace moebench {

enum class RunStatus { success, failure };

const char* run_status_name(RunStatus status);
// "success" or "failure"; throws InputError naming --status otherwise.
RunStatus parse_run_status(const std::string& text);

// Where a run ran: enough to tell two results' machines and builds apart.
struct RunEnvironment {
  std::string host;
  std::string backend;           // cpu | cuda
  std::string device;            // GPU name or CPU model
  std::string driver_version;    // GPU only
  std::string cuda_version;      // CUDA runtime; GPU only
  std::string moebench_version;
  std::string git_revision;
};

struct RunRecord {
  int64_t id = 0;             // assigned by the store; never reused after a delete
  std::string kind;           // layer | model | sweep
  std::string model;          // seed 002 "model"
  std::string config;         // seed 002 "config" (results/config_key.hpp)
  RunStatus status = RunStatus::success;
  std::string error_type;     // a FailureKind name (core/errors.hpp); empty on success
  std::string error_message;  // one concise line; empty on success
  // The run's parameters shown with its metrics (num_tokens, scenario, batch_size, ...).
  nlohmann::ordered_json params = nlohmann::ordered_json::object();
  // Measured figures, name -> number (null where unknown). Names end in their unit (_ms, _s,
  // _tok_per_s, ...) so that compare knows which way is better (results/compare.hpp).
  nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
  // Everything needed to reproduce the run beyond params (the model's shape, iterations, ...).
  nlohmann::ordered_json details = nlohmann::ordered_json::object();
  RunEnvironment environment;
  std::string command_line;
  // The invocation that produced the record: a layer run's rows share one, and a sweep's
  // children and its own summary record share the sweep's (results list --group).
  std::string group_id;
  std::string started_at;     // ISO-8601 UTC, "2025-11-27T23:45:12Z"
  std::string finished_at;

  std::string key() const { return model + "::" + config; }
};

}  // namespace moebench
