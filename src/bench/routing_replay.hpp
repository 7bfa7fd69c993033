#pragma once
// --routing-file for the layer benchmark: the recorded routings (routing/routing_file.hpp) turned
// into the cases the runners replay instead of the synthetic scenarios.
//
// Token counts come from the file: without --num-tokens each run replays all its tokens; with
// --num-tokens N each distinct run name replays the first N tokens (a prefix: the batch a
// prefill of N tokens would route) of its first run holding at least N; runs sharing a name
// (moebench's own export: one run per scenario x token count) count as one routing. A count no
// run of a name holds is bad input. Each case's result is labelled "replay:<name>" in the
// scenario column, its load statistics and roofline floor come from the recorded routing, and
// its fp64 reference uses the recorded expert ids and weights (bench/verify.hpp).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/model_config.hpp"
#include "routing/routing_file.hpp"

namespace moebench {

struct ReplayCase {
  std::string label;  // "replay:<name>", the result's scenario
  int64_t num_tokens = 0;
  std::shared_ptr<const RecordedRouting> recorded;  // this case's tokens only
  std::shared_ptr<const std::vector<float>> logits;  // [num_tokens][E], route to `recorded`
};

// Throws InputError naming --routing-file (or --num-tokens) before any work.
std::vector<ReplayCase> replay_cases(const std::string& path, const ModelConfig& model,
                                     const std::vector<int64_t>& num_tokens, const std::vector<float>& bias);

// The distinct token counts of `cases`, ascending: what the run allocates for.
std::vector<int64_t> replay_token_counts(const std::vector<ReplayCase>& cases);

}  // namespace moebench
