#pragma once
// Routing scenarios of seed 003: the router logits a benchmark feeds to the layer.
//  - random:     logits ~ N(0, 1) (Box-Muller); natural imbalance of about 1.2-1.5x.
//  - balanced:   engineered logits, round-robin assignment: token t prefers experts
//                (t*k + j) mod E, j < k; imbalance 1.0 when E divides T*k.
//  - imbalanced: engineered logits; expert 0 is the busiest and receives
//                n0 = round(imbalance_factor * T*k/E) tokens (at least ceil(T*k/E), at most T),
//                spread evenly over the batch; all other assignments go round robin over
//                experts 1..E-1. max/avg load is the factor within 10% once factor*T*k/E >= 10;
//                for fewer tokens it is as close as integer loads allow.
// The engineered scenarios make the intended experts win under route() for this model,
// group limits and score-correction bias (|bias| < 0.3) included: with group-limited sigmoid
// routing, a window of consecutive experts that would span more than topk_group groups moves
// forward to the next start that fits (only when topk_group * group size is close to top_k;
// the loads then stay near, not exactly at, the targets).
// Values are deterministic in the seed, from the counter-based generator of core/synthetic.hpp
// (stream router_logits), and a token's row does not depend on the batch size for random.
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
