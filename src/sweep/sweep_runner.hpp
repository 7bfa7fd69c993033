#pragma once
// Runs a sweep: each config in its own child process (child_process.hpp) under the sweep's
// group id, which the child records its own results under. A child that ended without
// recording anything (hung, crashed, refused its input) gets a failure recorded for it here,
// classified from how it ended (results/classify.hpp); then the sweep goes on. The sweep's own
// summary is recorded last, as a record of kind "sweep".
#include <string>
#include <vector>

#include "results/record_context.hpp"
#include "results/results_store.hpp"
#include "sweep/sweep_matrix.hpp"
#include "sweep/sweep_progress.hpp"

namespace moebench {

struct SweepOutcome {
  int succeeded = 0;
  int failed = 0;
  std::vector<RunRecord> records;  // everything this sweep's children recorded, oldest first
};

// `context.group_id` ties the records together; `source` names the matrix in the summary.
SweepOutcome run_sweep(const std::vector<SweepPoint>& points, const std::string& executable, ResultsStore& store,
                       const RecordContext& context, const std::string& source, SweepProgress& progress);

}  // namespace moebench
