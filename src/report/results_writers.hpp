#pragma once
// Writers of stored runs (results/run_record.hpp): the Markdown table a sweep ends with and
// `results export` writes, CSV, JSON, seed 002's success_results.json / failure_results.json,
// and the `results list` and `results show` texts. Pure functions of the records.
#include <string>
#include <vector>

#include "results/compare.hpp"
#include "results/run_record.hpp"

namespace moebench {

// One "## model" section per model, in first-seen order, with a table: config | status |
// every param | every metric | error. Unknown values print "-".
std::string results_markdown(const std::vector<RunRecord>& records);

// One row per record: the fixed columns (id ... command_line), then every param and every
// metric that any record has, in first-seen order. Empty field for a missing or null value.
std::string results_csv(const std::vector<RunRecord>& records);

// An array of every field of every record.
std::string results_json(const std::vector<RunRecord>& records);

// Seed 002: {"model::config": {"model", "config", params..., metrics..., "last_updated"}}; a
// `model` run's entry has seed 002's fields alone (results/model_records.hpp).
std::string seed_success_json(const std::vector<RunRecord>& successes);
// Seed 002: {"model::config": {"model", "config", "error_message", "error_type", "last_updated"}}.
std::string seed_failure_json(const std::vector<RunRecord>& failures);

// `results list`: id, finished, kind, status, model, config, and the mean latency or the error.
std::string results_list_table(const std::vector<RunRecord>& records);
// `results show`: every field, one per line, params and metrics indented.
std::string run_record_text(const RunRecord& record);

// `results compare`: one row per shared metric: A, B, speedup, change, and "better" or
// "REGRESSION" past the threshold.
std::string compare_table(const RunRecord& a, const RunRecord& b, const std::vector<MetricComparison>& rows,
                          double threshold_pct);

// The columns of a table of records: every key that any record has in its params (or its
// metrics), in first-seen order.
std::vector<std::string> param_keys(const std::vector<RunRecord>& records);
std::vector<std::string> metric_keys(const std::vector<RunRecord>& records);

}  // namespace moebench
