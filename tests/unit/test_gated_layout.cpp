// The gated epilogue's weight row order (moe/cuda/gated_layout.cuh): every product column of an
// expert feeds exactly one (output, gate or up) pair, and a GMMA quad thread's first column in
// a 128-column block feeds the first of its 16 consecutive outputs.
#include <gtest/gtest.h>

#include <vector>

#include "moe/cuda/gated_layout.cuh"

namespace moebench {
namespace {

TEST(GatedLayout, EveryColumnFeedsOneGateOrUpOfOneOutput) {
  for (int64_t inter : {64, 768, 1408}) {
    std::vector<int> gate(size_t(inter), 0), up(size_t(inter), 0);
    for (int64_t n = 0; n < 2 * inter; ++n) {
      const GatedColumn c = gated_column(n);
      ASSERT_GE(c.output, 0) << n;
      ASSERT_LT(c.output, inter) << n;
      ++(c.up ? up : gate)[size_t(c.output)];
      // The up column of an output sits 8 columns after its gate column, in the same thread.
      if (!c.up) {
        const GatedColumn partner = gated_column(n + 8);
        EXPECT_TRUE(partner.up) << n;
        EXPECT_EQ(partner.output, c.output) << n;
      }
    }
    for (int64_t j = 0; j < inter; ++j) {
      EXPECT_EQ(gate[size_t(j)], 1) << "output " << j << ", I=" << inter;
      EXPECT_EQ(up[size_t(j)], 1) << "output " << j << ", I=" << inter;
    }
  }
}

TEST(GatedLayout, AThreadsOutputsAreSixteenInARow) {
  for (int64_t block = 0; block < 3; ++block)
    for (int64_t q = 0; q < 4; ++q) {
      const int64_t first = gated_column(128 * block + 2 * q).output;
      EXPECT_EQ(first, 64 * block + 16 * q);
      for (int64_t v = 0; v < 16; v += 2)
        for (int64_t c = 0; c < 2; ++c)
          EXPECT_EQ(gated_column(128 * block + 8 * v + 2 * q + c).output, first + v + c);
    }
}

}  // namespace
}  // namespace moebench
