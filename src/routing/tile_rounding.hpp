#pragma once
// Tile-aware token rounding (SonicMoE; seed 004's "tile-aware token rounding"): change a few
// routing assignments so that each expert's token count is a multiple of the grouped GEMM's
// row tile, because a tile's padding rows cost as much as real ones.
//
// The rule, per expert e with c tokens and tile m, r = c mod m (experts decide independently):
// - r == 0: nothing to do.
// - r <= m/2 and c >= m: round down, dropping the r weakest assignments of e.
// - r > m/2 and at least m - r tokens do not route to e: round up, adding the m - r strongest.
// - otherwise (a small expert, or too few tokens): leave e as it is; rounding never empties an
//   expert, and never pads one that is mostly padding anyway.
// Strength of token t for expert e is its router logit l[t][e]; both softmax and sigmoid
// scores are monotone in it and a score-correction bias is constant per expert, so this is
// the order of the router's own scores, exact on every device. Ties: the lower token index is
// stronger. A dropped assignment keeps its slot with weight 0 (the token's other weights are
// not renormalised); an added one gets the weight the router would have given it beside the
// token's first choice f: w[t][f] * exp(l[t][e] - l[t][f]) (softmax) or
// w[t][f] * sigmoid(l[t][e]) / sigmoid(l[t][f]) (sigmoid).
#include <cstdint>
#include <vector>

#include "core/model_config.hpp"
#include "routing/routing.hpp"

namespace moebench {

struct RoundedRouting {
  Routing routing;                    // top_k slots per token; a dropped slot has weight 0
  std::vector<uint8_t> dropped;       // [T][k]: 1 where the slot was dropped
  std::vector<int32_t> added_token;   // added assignments, by expert then token
  std::vector<int32_t> added_expert;
  std::vector<float> added_weight;
  int64_t num_dropped = 0;
  int64_t num_added = 0;
  int64_t padding_rows_before = 0;    // sum over experts of ceil(c/m)*m - c
  int64_t padding_rows_after = 0;
};

// Rounds `routing` (from route() on `logits` [T][E]) to multiples of `tile_rows`.
// Throws InputError for tile_rows < 1.
RoundedRouting round_to_tiles(const ModelConfig& model, const float* logits, const Routing& routing,
                              int tile_rows);

// Tokens per expert after rounding (kept slots plus added assignments).
std::vector<int64_t> rounded_expert_loads(const RoundedRouting& r);

}  // namespace moebench
