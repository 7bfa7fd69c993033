#pragma once
// --results-db and --no-record, shared by every command that records its runs (layer, sweep,
// and model), and --results-db alone for `results`, which reads the store. Registration only:
// they fill a RecordOptions (results/record_options), which opens the store.
#include <string>

#include <CLI/CLI.hpp>

#include "results/record_options.hpp"

namespace moebench::cli {

void add_record_flags(CLI::App& app, RecordOptions& options);
void add_results_db_option(CLI::App& app, std::string& results_db);

}  // namespace moebench::cli
