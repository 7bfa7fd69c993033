#pragma once
// `moebench sweep` as a job: what the user asked for, as given (SweepJob), its matrix
// (sweep_job_matrix: from the file or from the axis flags, never both, with the backend's
// defaults), and the whole run of it (run_sweep_job): the backend resolved, the matrix expanded,
// a dry run's listing or the store opened, every config run in its own child, the Markdown
// summary, and the exit code. The command line only fills a SweepJob; tests build one.
#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "results/results_store.hpp"
#include "sweep/sweep_matrix.hpp"

namespace moebench {

struct SweepJob {
  std::string matrix_file;           // empty: the matrix is the axis flags
  SweepBlock axes;                   // from flags
  std::vector<int64_t> num_tokens;   // layer; empty: the backend's default
  double timeout_s = 600;
  // Which flags were on the command line: a matrix file refuses axis flags, and --timeout
  // overrides the file's timeout only when given.
  bool axis_flags_given = false;
  bool timeout_given = false;
  std::string backend = "auto";      // auto (GPU if present), cuda or cpu
  std::string results_db = kDefaultResultsDb;
  std::string run_name;  // --run-name: the sweep's group, which its children's records share
  bool dry_run = false;              // print each config's key and command line; run nothing
  bool quiet = false;                // no progress on stderr
};

// The backend `text` names, auto resolved to the GPU when one is visible. Throws InputError for
// cuda without a visible GPU.
BackendKind resolve_sweep_backend(const std::string& text);

// The job's matrix on `backend`: the file's (its timeout replaced by a given --timeout), or one
// block from the axis flags with the backend's default model and token counts; validated.
// Throws InputError for a file given with axis flags, or an invalid matrix.
SweepMatrix sweep_job_matrix(const SweepJob& job, BackendKind backend);

// Runs `job` start to end, `command_line` recorded with the sweep's summary. Returns 0, or 1
// when any config failed. Throws InputError for bad input before any config runs.
int run_sweep_job(const SweepJob& job, const std::string& command_line);

}  // namespace moebench
