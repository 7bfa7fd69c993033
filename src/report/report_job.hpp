#pragma once
// `moebench report` as a job: what the user asked for, as given (ReportJob: the report's options,
// the formats as typed and --no-plots), and the run of it (run_report_job): the formats read, the
// report written, each file written named on stdout. The command line only fills a ReportJob;
// tests build one.
#include <string>
#include <vector>

#include "report/report.hpp"

namespace moebench {

struct ReportJob {
  ReportOptions report;  // its formats, plots and command line are set from the fields below
  std::vector<std::string> formats = {"markdown", "html"};
  bool no_plots = false;
};

// Writes the report, "wrote PATH" on stdout per file. Returns 0. Throws InputError for bad input
// before anything is written.
int run_report_job(ReportJob job, const std::string& command_line);

}  // namespace moebench
