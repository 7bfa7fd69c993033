#pragma once
// What `moebench report` shows, read from the results store: seed 002's view (per model::config
// the latest success, and the failures of keys that never succeeded), narrowed by the
// report's filters and turned into typed rows for the plots and tables.
#include <cstdint>
#include <string>
#include <vector>

#include "results/results_store.hpp"

namespace moebench {

struct ReportFilter {
  std::string model;  // empty: every model
  std::string kind;   // layer | model; empty: both
  std::string since;  // ISO-8601 UTC date or time ("2025-11-27", "2025-11-27T23:45:12Z"); empty: all
};

// Throws InputError naming --since unless `text` is "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ".
void validate_since(const std::string& text);

// One successful layer result (an implementation on one scenario and token count).
struct LayerRow {
  std::string model, impl, scenario, dtype, device;
  int64_t num_tokens = 0;
  int tp_size = 1;  // devices (seed 003: tp_size counts them all)
  int ep_size = 1;
  double mean_ms = 0, p50_ms = 0, p95_ms = 0;
  double throughput_tok_per_s = 0;
  double max_imbalance = 0;
  int64_t max_load = 0, min_load = 0;
  std::vector<int64_t> expert_loads;  // tokens per expert; empty in records stored without them
};

// One successful end-to-end model run with a batch size and a throughput (seed 002's fields).
struct ModelRow {
  std::string model, config;
  int64_t batch_size = 0;
  int tp_size = 1;
  double throughput_tok_per_s = 0;  // output_throughput_tok_per_s
};

struct FailureRow {
  std::string model, config, error_type, error_message, when;
};

struct ReportData {
  std::vector<LayerRow> layers;
  std::vector<ModelRow> models;
  std::vector<FailureRow> failures;
  std::vector<std::string> model_names;  // every model with a row above, sorted
  std::vector<std::string> devices;      // where the rows ran, sorted
};

// Throws InputError naming --results-db when nothing in the store matches `filter`.
ReportData load_report_data(const ResultsStore& store, const ReportFilter& filter);

}  // namespace moebench
