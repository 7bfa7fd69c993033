// The json output format: one schema for every command and kind, {"schema_version", "runs":
// [every field of every record]}, so that `layer --output-format json` and `results export`
// of the same run read alike. schema_version is the results store's schema version whose
// record fields and metric names the document has (results/store_schema.hpp).
#include <memory>

#include <nlohmann/json.hpp>

#include "bench/result_writer.hpp"
#include "bench/writers/record_json.hpp"
#include "results/results_store.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

class JsonWriter : public ResultWriter {
 public:
  std::vector<std::string> write(const std::vector<RunRecord>& records, const WriterContext&) const override {
    json doc = {{"schema_version", ResultsStore::current_schema_version()}, {"runs", json::array()}};
    for (const RunRecord& r : records) doc["runs"].push_back(record_json(r));
    // Names come from the user (a config path, a device string): bytes that are not UTF-8 are
    // replaced rather than failing the whole file.
    return {doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n"};
  }
};

}  // namespace

std::shared_ptr<const ResultWriter> make_json_writer() { return std::make_shared<JsonWriter>(); }

}  // namespace moebench
