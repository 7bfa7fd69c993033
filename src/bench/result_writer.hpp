#pragma once
// One output format of benchmark results: a class that turns records into the texts of its
// files. `layer` and `model` convert their results to records once (bench/layer_records.hpp,
// bench/model_records.hpp) and hand them to the same writers as `results export` hands the
// records of a store query, so that a format is written one way by every command. Which
// formats exist, under which names, and where their files go: bench/writers.hpp.
#include <string>
#include <vector>

#include "results/run_record.hpp"

namespace moebench {

// Whose records a writer formats, which picks the layout users know for them.
enum class RecordLayout {
  layer,  // one `layer` run: sgl-jax's MoE benchmark CSV and Markdown layouts
  model,  // one `model` run: the batch-sweep CSV, the model report as Markdown
  store,  // any stored records (`results export`): one row per record
};

// What the records of one writing share beyond themselves.
struct WriterContext {
  RecordLayout layout = RecordLayout::store;
  // The run's own Markdown report where it has one: `model` prints it on stdout, and its
  // Markdown file is that same text (bench/model_report.hpp builds it from the full result).
  std::string report_markdown;
};

class ResultWriter {
 public:
  virtual ~ResultWriter() = default;
  // One text per file its registry entry names, in that order.
  virtual std::vector<std::string> write(const std::vector<RunRecord>& records, const WriterContext& context) const = 0;
};

}  // namespace moebench
