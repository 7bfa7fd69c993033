#pragma once
// Where a run that records its results (layer, model) records them: the store's path and
// whether to record at all (--results-db, --no-record, registered in cli/record_options).
#include <memory>
#include <string>

#include "results/results_store.hpp"

namespace moebench {

struct RecordOptions {
  std::string results_db = kDefaultResultsDb;
  bool no_record = false;
  // --run-name: the group every record of this run gets (results/record_context.hpp).
  std::string run_name;

  // The store to record into, or none with no_record. Called once the run's other input has
  // been checked and before the run, so that a bad path is bad input with nothing run.
  std::unique_ptr<ResultsStore> open() const;
};

}  // namespace moebench
