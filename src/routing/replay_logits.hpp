#pragma once
// Router logits that replay a recorded routing: every implementation routes from logits inside
// its timed forward, so a replayed routing reaches them as logits under which this model's
// router (route(), with its bias) picks exactly the recorded experts with the recorded weights.
//
// The recorded logits are used when the file has them; otherwise they are made per scoring:
//   softmax:  l_j = ln(w_j / scale) for the chosen experts; with norm_topk_prob every other
//             expert sits 30 below the smallest chosen logit (weight under e^-30); without it
//             the others share the probability mass the chosen ones leave, 1 - sum(w / scale).
//   sigmoid:  s_j = c * w_j (c = 0.999 / max w with norm_topk_prob, 1 / scale without),
//             l_j = ln(s_j / (1 - s_j)); every other expert -30.
// Either way the result is then checked: routing it must give each token's recorded experts
// (as a set) with weights within 1e-3 (relative, 1e-6 absolute) of the recorded ones, else the
// file was recorded from another router than this model's (say a softmax top-k without
// renormalisation against a model with norm_topk_prob) and replaying it would time a different
// routing: InputError naming --routing-file and the first token that differs.
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_config.hpp"
#include "routing/routing_file.hpp"

namespace moebench {

// [T][E] logits for `recorded` under `model` with score-correction `bias`, checked as above.
std::vector<float> replay_logits(const ModelConfig& model, const RecordedRouting& recorded,
                                 const std::vector<float>& bias, const std::string& path);

}  // namespace moebench
