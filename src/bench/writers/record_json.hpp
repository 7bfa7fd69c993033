#pragma once
// One result record as JSON, every field: what the json format lists under "runs" and the jsonl
// format writes one per line, so that both read alike.
#include <nlohmann/json.hpp>

#include "results/run_record.hpp"

namespace moebench {

nlohmann::ordered_json record_json(const RunRecord& record);

}  // namespace moebench
