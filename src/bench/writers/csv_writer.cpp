// The csv output format: one row per result in the layout users know for the records' kind.
#include <memory>

#include "bench/layer_records.hpp"
#include "bench/layer_writers.hpp"
#include "bench/model_report.hpp"
#include "bench/record_tables.hpp"
#include "bench/result_writer.hpp"

namespace moebench {

namespace {

class CsvWriter : public ResultWriter {
 public:
  std::vector<std::string> write(const std::vector<RunRecord>& records, const WriterContext& context) const override {
    switch (context.layout) {
      case RecordLayout::layer: {
        const std::vector<LayerResult> results = measured_layer_results(records);
        return {layer_results_csv(results, layer_context_from_records(records))};
      }
      case RecordLayout::model: return {model_sweep_csv(records)};
      case RecordLayout::store: return {records_csv(records)};
    }
    return {records_csv(records)};
  }
};

}  // namespace

std::shared_ptr<const ResultWriter> make_csv_writer() { return std::make_shared<CsvWriter>(); }

}  // namespace moebench
