// Tile-aware token rounding on the CPU: the rule of routing/tile_rounding.hpp case by case,
// and on a random batch every expert ends at a multiple of the tile unless the rule says not.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/errors.hpp"
#include "routing/routing.hpp"
#include "routing/tile_rounding.hpp"

using namespace moebench;

namespace {

ModelConfig model(int experts, int top_k) {
  ModelConfig m;
  m.name = "t";
  m.num_experts = experts;
  m.top_k = top_k;
  m.hidden_size = 64;
  m.moe_intermediate_size = 64;
  return m;
}

}  // namespace

TEST(TileRounding, DropsTheWeakestAndAddsTheStrongest) {
  // k = 1, two experts, tile 4. Tokens 0-2 pick expert 0 (3 tokens: r = 3 > 2, add one);
  // tokens 3-7 pick expert 1 (5 tokens: r = 1, drop one).
  const ModelConfig m = model(2, 1);
  const std::vector<float> logits = {
      2.0f, 0.0f,  2.5f, 0.0f,  3.0f, 0.0f,           // tokens 0-2 -> expert 0
      0.0f, 1.0f,  0.5f, 2.0f,  -1.0f, 3.0f,          // 3: l0 = 0.0, 4: l0 = 0.5 (strongest for e0), 5
      0.2f, 0.9f,  0.1f, 4.0f,                         // 6: e1 logit 0.9 is e1's weakest (after 3's 1.0)
  };
  Routing routing = route(m, logits.data(), 8, {});
  RoundedRouting r = round_to_tiles(m, logits.data(), routing, 4);
  // Drop: expert 1's weakest is token 6 (logit 0.9).
  EXPECT_EQ(r.num_dropped, 1);
  for (int t = 0; t < 8; ++t) EXPECT_EQ(r.dropped[size_t(t)], t == 6 ? 1 : 0) << "token " << t;
  EXPECT_EQ(r.routing.weights[6], 0.0f);
  // Add: among tokens 3-7 the strongest for expert 0 is token 4 (0.5).
  ASSERT_EQ(r.num_added, 1);
  EXPECT_EQ(r.added_token[0], 4);
  EXPECT_EQ(r.added_expert[0], 0);
  // k = 1 with renormalisation: token 4's weight on expert 1 is 1; beside it, exp(0.5 - 2.0).
  EXPECT_NEAR(r.added_weight[0], std::exp(0.5f - 2.0f), 1e-6);
  EXPECT_EQ(rounded_expert_loads(r), (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(r.padding_rows_before, 1 + 3);
  EXPECT_EQ(r.padding_rows_after, 0);
}

TEST(TileRounding, TiesGoToTheLowerTokenAndSmallExpertsAreNeverEmptied) {
  const ModelConfig m = model(2, 1);
  // Five tokens on expert 0 with equal logits: the weakest (dropped) is the highest index.
  std::vector<float> logits;
  for (int t = 0; t < 5; ++t) logits.insert(logits.end(), {1.0f, 0.0f});
  logits.insert(logits.end(), {0.0f, 1.0f});  // token 5 -> expert 1 alone: 1 < tile, r <= m/2
  Routing routing = route(m, logits.data(), 6, {});
  RoundedRouting r = round_to_tiles(m, logits.data(), routing, 4);
  EXPECT_EQ(r.num_dropped, 1);
  EXPECT_EQ(r.dropped[4], 1);
  EXPECT_EQ(r.num_added, 0);  // expert 1: 1 token, tile 4: neither dropped (would empty it) nor padded
  EXPECT_EQ(rounded_expert_loads(r), (std::vector<int64_t>{4, 1}));
}

TEST(TileRounding, RandomBatchEndsOnTileMultiples) {
  const ModelConfig m = model(16, 4);
  const int64_t T = 1000;
  std::mt19937 gen(7);
  std::normal_distribution<float> normal;
  std::vector<float> logits(size_t(T * m.num_experts));
  for (float& l : logits) l = normal(gen);
  Routing routing = route(m, logits.data(), T, {});
  const std::vector<int64_t> before = expert_loads(routing);
  for (int tile : {16, 64, 128}) {
    RoundedRouting r = round_to_tiles(m, logits.data(), routing, tile);
    const std::vector<int64_t> after = rounded_expert_loads(r);
    int64_t changed = 0;
    for (int e = 0; e < m.num_experts; ++e) {
      const int64_t c = before[size_t(e)], rem = c % tile;
      const bool may_stay = rem == 0 || (2 * rem <= tile && c < tile) || (2 * rem > tile && tile - rem > T - c);
      if (!may_stay) EXPECT_EQ(after[size_t(e)] % tile, 0) << "expert " << e << " tile " << tile;
      changed += std::abs(after[size_t(e)] - c);
    }
    EXPECT_EQ(changed, r.num_added + r.num_dropped);
    EXPECT_LE(r.padding_rows_after, r.padding_rows_before);
    EXPECT_GT(r.num_added + r.num_dropped, 0) << "tile " << tile;
  }
  // A tile of one row changes nothing; a tile of zero is refused.
  EXPECT_EQ(round_to_tiles(m, logits.data(), routing, 1).num_dropped, 0);
  EXPECT_THROW(round_to_tiles(m, logits.data(), routing, 0), InputError);
}
