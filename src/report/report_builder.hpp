#pragma once
// The report's content: what was read, each plot with the table of the numbers behind it (so
// the report reads without the plots too), and the failures that never succeeded.
#include <string>
#include <vector>

#include "report/report_data.hpp"
#include "report/report_document.hpp"
#include "report/report_memory.hpp"
#include "report/report_plots.hpp"

namespace moebench {

struct ReportHeader {
  std::string results_db;
  ReportFilter filter;
  MemorySettings memory;
  std::string generated_at;  // UTC
  std::string moebench_version;
  std::string command_line;
};

// `plots` in section order: latency, memory, throughput, expert load. A plot not made (or
// not rendered: `with_images` false) is replaced by the reason, its table stays.
ReportDocument build_report(const ReportData& data, const MemoryBars& memory, const std::vector<PlannedPlot>& plots,
                            bool with_images, const ReportHeader& header);

}  // namespace moebench
