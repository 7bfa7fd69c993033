#pragma once
// Where one rank stands in an expert/tensor-parallel MoE layer, with SGLang's meaning of the
// flags (analysis/parallel_layout.hpp says the same for the memory model): tp_size ranks in all;
// ep_size expert-parallel groups, group g holding experts [g * E / ep, (g + 1) * E / ep); inside a
// group, moe_tp_size = tp_size / ep_size ranks each holding one slice of every local expert's
// intermediate dimension. Rank r is moe_ep_rank r / moe_tp_size, moe_tp_rank r % moe_tp_size, as
// SGLang numbers them. Also how the batch's tokens are split when each rank runs its own slice.
#include <cstdint>
#include <utility>

namespace moebench {

class Communicator;

struct MoeParallel {
  int tp_size = 1;
  int ep_size = 1;
  int rank = 0;
  // The ranks' collectives; null for a layer on one device (an implementation then exchanges
  // with itself).
  Communicator* comm = nullptr;

  int moe_tp_size() const { return tp_size / ep_size; }
  int moe_ep_rank() const { return rank / moe_tp_size(); }
  int moe_tp_rank() const { return rank % moe_tp_size(); }
  int experts_per_group(int num_experts) const { return num_experts / ep_size; }
  int first_local_expert(int num_experts) const { return moe_ep_rank() * experts_per_group(num_experts); }
  // The ep group (moe_ep_rank) holding expert e.
  int group_of_expert(int expert, int num_experts) const { return expert / experts_per_group(num_experts); }
};

// What one rank of an expert- or tensor-parallel layer holds (moe/local_experts.hpp makes it for
// ep and tp; moe/rank_weights.hpp allocates just that): the [begin, end) of its routed experts'
// intermediate dimension (of the experts of its ep group) and of its shared experts', and the
// rows its routed experts are first prepared for.
struct RankExperts {
  std::pair<int64_t, int64_t> routed_inter, shared_inter;
  int64_t routed_rows = 0;
};

// [begin, end) of part `index` of `count` parts of n: as even as can be, the first parts one
// longer; a part is empty when n < count. Used for a rank's tokens and for its intermediate slice.
inline std::pair<int64_t, int64_t> even_part(int64_t n, int index, int count) {
  return {n * index / count, n * (index + 1) / count};
}

// The longest of even_part's parts: what every part fits in (buffers sized alike on all ranks).
inline int64_t largest_part(int64_t n, int count) { return (n + count - 1) / count; }

}  // namespace moebench
