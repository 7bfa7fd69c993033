#pragma once
// Stored runs as tables, whatever their kind: the CSV and Markdown layouts of any records
// (`results export`, the table a sweep ends with), one row per record with every param and
// every metric any of them has.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/run_record.hpp"

namespace moebench {

// One row per record: the fixed columns (id ... command_line), then every param and every
// metric that any record has, in first-seen order. Empty field for a missing or null value.
std::string records_csv(const std::vector<RunRecord>& records);

// One "## model" section per model, in first-seen order, with a table: config | status |
// every param | every metric | error. Unknown values print "-".
std::string records_markdown(const std::vector<RunRecord>& records);

// The columns of a table of records: every key that any record has in its params (or its
// metrics), in first-seen order.
std::vector<std::string> param_keys(const std::vector<RunRecord>& records);
std::vector<std::string> metric_keys(const std::vector<RunRecord>& records);

// One value of a record's params or metrics as a table cell for people: "-" for null, a float
// to its significant digits, a string as it is.
std::string record_cell(const nlohmann::ordered_json& value);

}  // namespace moebench
