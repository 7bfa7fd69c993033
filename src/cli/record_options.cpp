// The results store flags (record_options.hpp).
#include "cli/record_options.hpp"

namespace moebench::cli {

void add_results_db_option(CLI::App& app, std::string& results_db) {
  app.add_option("--results-db", results_db,
                 "SQLite results store: layer, model and sweep record into it, results and report read it")
      ->capture_default_str();
}

void add_run_name_option(CLI::App& app, std::string& run_name) {
  app.add_option("--run-name", run_name,
                 "tag this run: its records' group (results list --group NAME, results show); runs given the "
                 "same name share it");
}

void add_record_flags(CLI::App& app, RecordOptions& o) {
  add_results_db_option(app, o.results_db);
  app.add_flag("--no-record", o.no_record, "do not record this run in the results store");
  add_run_name_option(app, o.run_name);
}

}  // namespace moebench::cli
