// The jsonl output format: one line per result record, every field (as the json format lists
// them) plus schema_version, so that a file collects the results of many runs: bench/writers.cpp
// appends this text to the file's existing lines instead of replacing it.
#include <memory>

#include <nlohmann/json.hpp>

#include "bench/result_writer.hpp"
#include "bench/writers/record_json.hpp"
#include "results/results_store.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

class JsonlWriter : public ResultWriter {
 public:
  std::vector<std::string> write(const std::vector<RunRecord>& records, const WriterContext&) const override {
    std::string text;
    for (const RunRecord& r : records) {
      json line = {{"schema_version", ResultsStore::current_schema_version()}};
      line.update(record_json(r));
      // Bytes that are not UTF-8 (a config path, a device string) are replaced, not fatal.
      text += line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    }
    return {text};
  }
};

}  // namespace

std::shared_ptr<const ResultWriter> make_jsonl_writer() { return std::make_shared<JsonlWriter>(); }

}  // namespace moebench
