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
//  - zipf:       engineered logits; expert e (0-based) has popularity (e+1)^-s (s = the Zipf
//                exponent, > 0) and each token draws its k experts from it without replacement,
//                so expert 0 is the busiest and the loads fall off as a power law (the shape of
//                real routers' load skew; s = 1 is the classic Zipf law).
//  - hot-experts: engineered logits; N hot experts (0..N-1) take the share F of all T*k
//                token-expert assignments, spread evenly over the batch and round robin among
//                them; the rest go round robin over the cold experts N..E-1. Each hot expert then
//                holds about F*T*k/N assignments. A token holds at most one copy of an expert,
//                so F*k must lie between k - (E - N) and N.
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

enum class Scenario { random, balanced, imbalanced, zipf, hot_experts };

// The knobs of the engineered scenarios; each scenario reads only its own.
struct ScenarioParams {
  double imbalance_factor = 3.0;  // imbalanced: busiest expert load / average load
  double zipf_exponent = 1.0;     // zipf: s in popularity (e+1)^-s, > 0
  int hot_experts = 0;            // hot-experts: N, 1 <= N < num_experts; 0 means top_k
  double hot_share = 0.5;         // hot-experts: F, the share of assignments the hot experts take, (0, 1]
};

const char* scenario_name(Scenario s);
Scenario parse_scenario(const std::string& text);  // throws InputError
std::vector<Scenario> all_scenarios();

// Largest imbalance factor a model allows: every token picks the busiest expert, E / k.
double max_imbalance_factor(const ModelConfig& model);
// Throws InputError unless 1 <= factor <= max_imbalance_factor(model).
void check_imbalance_factor(const ModelConfig& model, double factor);
// Throws InputError naming --zipf-exponent unless the exponent is positive and finite.
void check_zipf_exponent(double exponent);
// N with the 0-means-top_k default applied.
int hot_expert_count(const ModelConfig& model, const ScenarioParams& params);
// Throws InputError naming --hot-experts or --hot-share unless 1 <= N < num_experts,
// 0 < F <= 1 and the share is one a token's k distinct experts can realise (see above).
void check_hot_experts(const ModelConfig& model, const ScenarioParams& params);
// Checks the Zipf exponent and the hot share always, the model-dependent knobs of the scenarios in
// `scenarios` only.
void check_scenario_params(const ModelConfig& model, const std::vector<Scenario>& scenarios,
                           const ScenarioParams& params);

// Logits [num_tokens][num_experts], deterministic in `seed`. The engineered scenarios make
// the intended experts win under route() for this model (group limits included).
std::vector<float> scenario_logits(const ModelConfig& model, Scenario scenario, int64_t num_tokens,
                                   const ScenarioParams& params, uint64_t seed);
// The same with every knob at its default but the imbalance factor.
std::vector<float> scenario_logits(const ModelConfig& model, Scenario scenario, int64_t num_tokens,
                                   double imbalance_factor, uint64_t seed);

}  // namespace moebench
