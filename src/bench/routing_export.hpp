#pragma once
// --export-routing DIR: the exact router logits and routing of a layer run, for peers.
//
// bench/peers.py runs PyTorch implementations "on the same shapes and the same routing": it
// reads these files instead of re-deriving moebench's scenario generator. For every scenario x
// token count: logits float32 [T][E], expert ids int32 [T][k] and weights float32 [T][k]
// (raw little-endian), listed in manifest.json with the model's dimensions.
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_config.hpp"
#include "routing/scenarios.hpp"

namespace moebench {

// Creates `dir` if needed; throws InputError naming --export-routing when it cannot write.
void export_routing(const std::string& dir, const ModelConfig& model, const std::vector<Scenario>& scenarios,
                    const std::vector<int64_t>& num_tokens, const ScenarioParams& params, uint64_t seed);

}  // namespace moebench
