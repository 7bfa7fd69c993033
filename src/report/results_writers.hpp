#pragma once
// The texts `results list`, `results show` and `results compare` print for stored runs
// (results/run_record.hpp). Pure functions of the records; the file formats of `results
// export` are bench/writers.hpp's.
#include <string>
#include <vector>

#include "results/compare.hpp"
#include "results/run_compare.hpp"
#include "results/run_record.hpp"

namespace moebench {

// `results list`: id, finished, kind, status, model, config, and the mean latency or the error.
std::string results_list_table(const std::vector<RunRecord>& records);
// `results show`: every field, one per line, params and metrics indented.
std::string run_record_text(const RunRecord& record);

// `results compare`: one row per shared metric: A, B, speedup, change, and "better" or
// "REGRESSION" past the threshold.
// `results compare --run-name A B`: one row per configuration both runs hold.
std::string run_name_compare_table(const std::string& a, const std::string& b, const RunNameComparison& c,
                                   double threshold_pct);

std::string compare_table(const RunRecord& a, const RunRecord& b, const std::vector<MetricComparison>& rows,
                          double threshold_pct);

}  // namespace moebench
