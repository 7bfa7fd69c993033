#pragma once
// Results grouped the way people compare them: per scenario, then per token count, with the
// implementations side by side. Shared by the terminal table and the Markdown writer.
#include <cstdint>
#include <string>
#include <vector>

#include "bench/layer_result.hpp"

namespace moebench {

struct LayerResultGroup {
  std::string scenario;
  int64_t num_tokens = 0;
  std::vector<const LayerResult*> results;  // in run order
};

// Scenarios in the order first met, token counts in the order first met within a scenario:
// the order the user asked for them, whatever order the results come in.
std::vector<LayerResultGroup> group_layer_results(const std::vector<LayerResult>& results);

// A check ran and did not pass: the result must not count as a measurement of a working layer.
inline bool failed_verification(const LayerResult& r) { return r.verified && !r.verify_passed; }

}  // namespace moebench
