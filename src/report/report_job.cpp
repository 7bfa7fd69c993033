// `moebench report`'s run: the job's formats and plots into the report's options, the report
// written and its files named (report_job.hpp).
#include "report/report_job.hpp"

#include <cstdio>

namespace moebench {

int run_report_job(ReportJob o, const std::string& command_line) {
  parse_report_formats(o.formats, o.report);
  o.report.plots = !o.no_plots;
  o.report.command_line = command_line;
  for (const std::string& path : write_report(o.report)) std::printf("wrote %s\n", path.c_str());
  return 0;
}

}  // namespace moebench
