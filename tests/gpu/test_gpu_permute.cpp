// ExpertPermutation against a stable sort on the host, through its three paths: one block (up
// to 8192 slots and 256 experts), chunks of slots (more slots, up to 256 experts) and CUB (more
// experts). Slot counts below, at and above a multiple of the block's 1024 threads and of the
// chunk, experts with no slots, every slot on one expert. Each permutation is built twice on
// the same object (sized for more tokens than it is given), the second time from other ids:
// anything the second build leaves over from the first shows. Then the two gathers that build
// the expert-ordered rows from it, row order and token order, against the host.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "backend/cuda_backend.hpp"
#include "gpu_test_util.hpp"
#include "moe/cuda/permute.cuh"

namespace moebench {
namespace {

struct Permuted {
  std::vector<int32_t> counts, offsets, sorted_slots, slot_rows;
};

Permuted on_host(const std::vector<int32_t>& ids, int experts) {
  Permuted p;
  p.counts.assign(size_t(experts), 0);
  for (int32_t e : ids) ++p.counts[size_t(e)];
  p.offsets.assign(size_t(experts) + 1, 0);
  for (int e = 0; e < experts; ++e) p.offsets[size_t(e) + 1] = p.offsets[size_t(e)] + p.counts[size_t(e)];
  p.sorted_slots.resize(ids.size());
  std::iota(p.sorted_slots.begin(), p.sorted_slots.end(), 0);
  std::stable_sort(p.sorted_slots.begin(), p.sorted_slots.end(),
                   [&](int32_t a, int32_t b) { return ids[size_t(a)] < ids[size_t(b)]; });
  p.slot_rows.resize(ids.size());
  for (size_t r = 0; r < ids.size(); ++r) p.slot_rows[size_t(p.sorted_slots[r])] = int32_t(r);
  return p;
}

std::vector<int32_t> download(Backend& gpu, const int32_t* device, size_t count) {
  std::vector<int32_t> out(count);
  gpu.copy_to_host(out.data(), device, count * sizeof(int32_t));
  return out;
}

enum class Ids { spread, one_expert, even_experts };

std::vector<int32_t> make_ids(int64_t slots, int experts, Ids kind, uint64_t seed) {
  std::vector<int32_t> ids(static_cast<size_t>(slots));
  for (int64_t i = 0; i < slots; ++i) {
    const uint64_t h = (uint64_t(i) * 2654435761u + seed * 40503u + 12345u) % 1000003u;
    switch (kind) {
      case Ids::spread: ids[size_t(i)] = int32_t(h % uint64_t(experts)); break;
      case Ids::one_expert: ids[size_t(i)] = experts / 2; break;
      case Ids::even_experts: ids[size_t(i)] = int32_t(h % uint64_t((experts + 1) / 2)) * 2; break;
    }
  }
  return ids;
}

TEST(GpuPermutation, MatchesAStableSortOnTheHost) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  struct Case {
    int experts, top_k;
    int64_t tokens;
    Ids ids;
  };
  const Case cases[] = {
      {128, 8, 1, Ids::spread},         {128, 8, 7, Ids::spread},       {128, 8, 129, Ids::spread},
      {128, 8, 1024, Ids::spread},      // 8192 slots: one block, eight full chunks
      {128, 8, 1025, Ids::spread},      // 8200 slots: chunks, the last of 8 slots
      {128, 8, 4096, Ids::spread},      // 32768 slots: 16 full chunks
      {256, 8, 2049, Ids::even_experts}, {8, 2, 9001, Ids::one_expert},  // chunks
      {256, 8, 1000, Ids::even_experts}, {60, 4, 100, Ids::even_experts}, {8, 2, 333, Ids::one_expert},
      {257, 2, 64, Ids::spread},        // 257 experts: CUB
      {384, 8, 16, Ids::spread},        {384, 8, 2048, Ids::spread},  // CUB
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.experts) + " experts, top_k " + std::to_string(c.top_k) + ", " +
                 std::to_string(c.tokens) + " tokens");
    const int64_t slots = c.tokens * c.top_k;
    ExpertPermutation permutation(*gpu, c.experts, c.top_k, 2 * c.tokens + 1024);
    DeviceBuffer d_ids(*gpu, size_t(slots) * sizeof(int32_t));
    for (uint64_t seed : {7u, 8u}) {
      const std::vector<int32_t> ids = make_ids(slots, c.experts, seed == 7u ? Ids::spread : c.ids, seed);
      gpu->copy_to_device(d_ids.get(), ids.data(), ids.size() * sizeof(int32_t));
      permutation.build(d_ids.as<int32_t>(), c.tokens, cuda_stream(*gpu));
      gpu->synchronize();
      const Permuted want = on_host(ids, c.experts);
      EXPECT_EQ(download(*gpu, permutation.counts(), size_t(c.experts)), want.counts) << "counts, seed " << seed;
      EXPECT_EQ(download(*gpu, permutation.offsets(), size_t(c.experts) + 1), want.offsets) << "offsets, seed " << seed;
      EXPECT_EQ(download(*gpu, permutation.sorted_slots(), size_t(slots)), want.sorted_slots)
          << "sorted slots, seed " << seed;
      EXPECT_EQ(download(*gpu, permutation.slot_rows(), size_t(slots)), want.slot_rows) << "slot rows, seed " << seed;
    }
  }
}

// Rows of distinct values, so that a row copied from the wrong token or to the wrong place shows;
// the output starts poisoned (0xFFFF, a NaN in bf16 and fp16), so a row left unwritten shows.
TEST(GpuPermutation, BothGathersPutEveryTokenInItsRows) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  struct Case {
    int experts, top_k;
    int64_t tokens, hidden;
  };
  const Case cases[] = {
      {128, 8, 129, 2048},  // 16-byte vectors, several per thread
      {128, 8, 7, 72},      // vectors, fewer than the block's threads
      {8, 2, 1025, 30},     // single elements: the hidden size is not a multiple of 8
      {60, 1, 300, 264},    // top_k = 1
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.experts) + " experts, top_k " + std::to_string(c.top_k) + ", " +
                 std::to_string(c.tokens) + " tokens, hidden " + std::to_string(c.hidden));
    const int64_t slots = c.tokens * c.top_k;
    const std::vector<int32_t> ids = make_ids(slots, c.experts, Ids::spread, 11);
    DeviceBuffer d_ids(*gpu, size_t(slots) * sizeof(int32_t));
    gpu->copy_to_device(d_ids.get(), ids.data(), ids.size() * sizeof(int32_t));
    ExpertPermutation permutation(*gpu, c.experts, c.top_k, c.tokens);
    permutation.build(d_ids.as<int32_t>(), c.tokens, cuda_stream(*gpu));

    std::vector<uint16_t> x(size_t(c.tokens * c.hidden));
    for (size_t i = 0; i < x.size(); ++i) x[i] = uint16_t((i * 7919u + 13u) % 0x7C00u);  // finite, distinct nearby
    DeviceBuffer d_x(*gpu, x.size() * 2), d_rows(*gpu, size_t(slots * c.hidden) * 2);
    gpu->copy_to_device(d_x.get(), x.data(), x.size() * 2);

    const Permuted want = on_host(ids, c.experts);
    std::vector<uint16_t> expected(size_t(slots * c.hidden));
    for (int64_t r = 0; r < slots; ++r) {
      const int64_t token = want.sorted_slots[size_t(r)] / c.top_k;
      std::copy_n(x.begin() + token * c.hidden, c.hidden, expected.begin() + r * c.hidden);
    }
    for (const bool token_order : {false, true}) {
      gpu->fill_bytes(d_rows.get(), 0xFF, size_t(slots * c.hidden) * 2);
      if (token_order)
        gather_token_rows(d_x.get(), permutation.slot_rows(), c.top_k, c.tokens, c.hidden, d_rows.get(),
                          cuda_stream(*gpu));
      else
        gather_rows(d_x.get(), permutation.sorted_slots(), c.top_k, slots, c.hidden, DType::bf16, d_rows.get(),
                    cuda_stream(*gpu));
      gpu->synchronize();
      std::vector<uint16_t> rows(expected.size());
      gpu->copy_to_host(rows.data(), d_rows.get(), rows.size() * 2);
      EXPECT_EQ(rows, expected) << (token_order ? "token order" : "row order");
    }
  }
}

}  // namespace
}  // namespace moebench
