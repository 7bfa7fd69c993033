#pragma once
// The layouts of `moebench model`: the Markdown report (seed 000's summary table, raw per-run
// lines and per-batch sections, seed 001's batch-sweep table, start-up phases, the memory
// layout beside the prediction) from a finished ModelResult, and the batch-sweep CSV that the
// csv output format writes from the run's records. Neither measures or computes a figure.
#include <string>
#include <vector>

#include "bench/model_result.hpp"
#include "results/run_record.hpp"

namespace moebench {

std::string model_report_markdown(const ModelResult& result);
// One row per batch size: batch_size, input_len, output_len, status, then the metrics of
// seed 001's batch sweep under their record names (empty for a batch size that did not run).
std::string model_sweep_csv(const std::vector<RunRecord>& records);

// The memory parts the report sets side by side: measured bytes and the memory model's lines
// they correspond to.
struct MemoryComparisonRow {
  std::string part;
  int64_t measured = 0;
  int64_t predicted = 0;
};
std::vector<MemoryComparisonRow> memory_comparison(const ModelMemory& memory);

}  // namespace moebench
