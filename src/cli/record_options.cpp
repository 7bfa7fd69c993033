#include "cli/record_options.hpp"

namespace moebench::cli {

void add_results_db_option(CLI::App& app, std::string& results_db) {
  app.add_option("--results-db", results_db, "SQLite results store")->capture_default_str();
}

void RecordOptions::add_to(CLI::App& app) {
  add_results_db_option(app, results_db);
  app.add_flag("--no-record", no_record, "do not record this run in the results store");
}

std::unique_ptr<ResultsStore> RecordOptions::open() const {
  if (no_record) return nullptr;
  return std::make_unique<ResultsStore>(results_db);
}

}  // namespace moebench::cli
