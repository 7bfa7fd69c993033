#pragma once
// --results-db and --no-record, shared by every command that records its runs (layer, sweep,
// and model), and --results-db alone for `results`, which reads the store.
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "results/results_store.hpp"

namespace moebench::cli {

struct RecordOptions {
  std::string results_db = kDefaultResultsDb;
  bool no_record = false;

  void add_to(CLI::App& app);
  // The store to record into, or none with --no-record. Called once the command's other input
  // has been checked and before the run, so that a bad path is bad input with nothing run.
  std::unique_ptr<ResultsStore> open() const;
};

void add_results_db_option(CLI::App& app, std::string& results_db);

}  // namespace moebench::cli
