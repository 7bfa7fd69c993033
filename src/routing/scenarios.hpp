#pragma once
// Routing scenarios of seed 003: the router logits a benchmark feeds to the layer.
//  - random:     logits ~ N(0, 1); natural imbalance of about 1.2-1.5x.
//  - balanced:   engineered logits, round-robin assignment; imbalance ~1.0.
//  - imbalanced: engineered logits; the busiest expert receives imbalance_factor times the
//                average load (within 10%), the rest spread evenly.
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_config.hpp"

namespace moebench {

enum class Scenario { random, balanced, imbalanced };

const char* scenario_name(Scenario s);
Scenario parse_scenario(const std::string& text);  // throws InputError
std::vector<Scenario> all_scenarios();

// Largest imbalance factor a model allows: every token picks the busiest expert, E / k.
double max_imbalance_factor(const ModelConfig& model);
// Throws InputError unless 1 <= factor <= max_imbalance_factor(model).
void check_imbalance_factor(const ModelConfig& model, double factor);

// Logits [num_tokens][num_experts], deterministic in `seed`. The engineered scenarios make
// the intended experts win under route() for this model (group limits included).
std::vector<float> scenario_logits(const ModelConfig& model, Scenario scenario, int64_t num_tokens,
                                   double imbalance_factor, uint64_t seed);

}  // namespace moebench
