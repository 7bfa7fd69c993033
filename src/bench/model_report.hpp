#pragma once
// Writers of `moebench model`: the Markdown report (seed 000's summary table, raw per-run
// lines and per-batch sections, seed 001's batch-sweep table, start-up phases, the memory
// layout beside the prediction), the batch-sweep table as CSV, and everything as JSON.
// They format a finished ModelResult; none of them measures or computes a figure.
#include <string>

#include "bench/model_result.hpp"

namespace moebench {

std::string model_report_markdown(const ModelResult& result);
std::string model_sweep_csv(const ModelResult& result);
std::string model_result_json(const ModelResult& result);

// The memory parts the report sets side by side: measured bytes and the memory model's lines
// they correspond to.
struct MemoryComparisonRow {
  std::string part;
  int64_t measured = 0;
  int64_t predicted = 0;
};
std::vector<MemoryComparisonRow> memory_comparison(const ModelMemory& memory);

}  // namespace moebench
