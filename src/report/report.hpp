#pragma once
// `moebench report`: stored results -> plots (gnuplot) -> report.md with its PNGs and one
// self-contained report.html, written together and atomically into one directory.
#include <string>
#include <vector>

#include "report/report_data.hpp"
#include "report/report_memory.hpp"

namespace moebench {

struct ReportOptions {
  std::string results_db;
  ReportFilter filter;
  MemorySettings memory;
  std::string output_dir = "./report";
  bool markdown = true;
  bool html = true;
  bool plots = true;
  std::string command_line;
};

// "md", "html" or both, comma-separated; throws InputError naming --format otherwise.
void parse_report_formats(const std::vector<std::string>& formats, ReportOptions& options);

// Checks every input (the store, the filters, the output directory, gnuplot) before writing
// anything, then writes the report; returns the files written. InputError on bad input.
std::vector<std::string> write_report(const ReportOptions& options);

}  // namespace moebench
