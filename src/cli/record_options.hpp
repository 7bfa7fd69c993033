#pragma once
// --results-db, the one way every command names the results store (layer, model, sweep,
// results, report), and --no-record for the commands that record a run (layer, model).
// Registration only: they fill a RecordOptions (results/record_options), which opens the store.
#include <string>

#include <CLI/CLI.hpp>

#include "results/record_options.hpp"

namespace moebench::cli {

// --results-db and --no-record.
void add_record_flags(CLI::App& app, RecordOptions& options);
// --results-db alone, with its one help text; `results_db` holds the default shown.
void add_results_db_option(CLI::App& app, std::string& results_db);
// --run-name (layer, model through add_record_flags; sweep).
void add_run_name_option(CLI::App& app, std::string& run_name);

}  // namespace moebench::cli
