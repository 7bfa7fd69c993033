// RecordOptions::open: the results store a run records into (record_options.hpp).
#include "results/record_options.hpp"

namespace moebench {

std::unique_ptr<ResultsStore> RecordOptions::open() const {
  if (no_record) return nullptr;
  return std::make_unique<ResultsStore>(results_db);
}

}  // namespace moebench
