#pragma once
// `moebench results` as a job: what the user asked for, as given (ResultsJob: the subcommand and
// its filters, ids and export settings), and the whole run of it (run_results_job): list, show,
// export (with the rules of where the files go), compare or delete over the store, and the exit
// code. It lives above bench/ because export writes through bench/'s writers. The command line
// only fills a ResultsJob; tests build one.
#include <cstdint>
#include <string>
#include <vector>

#include "results/results_store.hpp"

namespace moebench {

enum class ResultsAction { list, show, export_runs, compare, remove };

struct ResultsJob {
  ResultsAction action = ResultsAction::list;  // `results` alone lists
  std::string results_db = kDefaultResultsDb;
  // --results-db was on the command line: a store the user named must exist, while the default
  // store not existing yet only means nothing has been recorded in this directory.
  bool results_db_given = false;
  // Filters of list, export and delete.
  std::string model, kind, status, group;
  int64_t limit = 50;           // list: the newest N; 0 = all
  std::vector<int64_t> ids;     // show: one; compare: A B; delete: any
  // export
  std::string format = "markdown";
  std::string output_file;
  bool tracker_format = false;  // = --output-format tracker, into output_dir
  std::string output_dir = ".";
  // compare
  double threshold_pct = 5;
  std::vector<std::string> run_names;  // compare --run-name A B: two tagged runs instead of ids
};

// Runs the job's subcommand: its text on stdout, counts and files written on stderr. Returns 0.
// Throws InputError for bad input (an unknown id, a missing directory, a named store that does
// not exist), before anything is written.
//
// Export's rules: one file and no --output-file goes to stdout; formats with fixed file names
// (--tracker-format: the tracker files) go into --output-dir; anything else needs
// --output-file as its base path.
int run_results_job(const ResultsJob& job);

}  // namespace moebench
