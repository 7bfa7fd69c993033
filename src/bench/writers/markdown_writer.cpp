// The markdown output format: tables for people, in the layout users know for the records'
// kind (sgl-jax's per-scenario sections for a layer run, the report of a model run).
#include <memory>

#include "bench/layer_records.hpp"
#include "bench/layer_writers.hpp"
#include "bench/record_tables.hpp"
#include "bench/result_writer.hpp"

namespace moebench {

namespace {

class MarkdownWriter : public ResultWriter {
 public:
  std::vector<std::string> write(const std::vector<RunRecord>& records, const WriterContext& context) const override {
    switch (context.layout) {
      case RecordLayout::layer: {
        const std::vector<LayerResult> results = measured_layer_results(records);
        return {layer_results_markdown(results, layer_context_from_records(records))};
      }
      case RecordLayout::model: return {context.report_markdown};
      case RecordLayout::store: return {records_markdown(records)};
    }
    return {records_markdown(records)};
  }
};

}  // namespace

std::shared_ptr<const ResultWriter> make_markdown_writer() { return std::make_shared<MarkdownWriter>(); }

}  // namespace moebench
