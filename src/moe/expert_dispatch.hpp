#pragma once
// The host-side plan of one expert-parallel exchange, the same for the CPU's and the GPU's `ep`
// (moe/cpu/expert_parallel.cpp, moe/cuda/expert_parallel_cuda.cpp), so that both send the same
// rows in the same order: rows go peer after peer, within a peer expert after expert, a row to
// each rank of its expert's ep group, so that a receiver knows each row's expert from the counts
// alone. A rank with no tokens, or whose experts get none, exchanges empty parts.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "moe/moe_parallel.hpp"
#include "routing/routing.hpp"

namespace moebench {

// What this rank sends: for every destination d and its group's local expert le, the row count
// send_counts[d * per_group + le]; then the rows, each one routing slot (token * top_k + j), with
// its token and routing weight for the weighted sum of the combine.
struct DispatchPlan {
  std::vector<int64_t> send_counts;  // [world][per_group]
  std::vector<int32_t> send_slots;   // in send order
  std::vector<int32_t> row_token;    // send_slots / top_k
  std::vector<float> row_weight;
  std::vector<size_t> send_rows;     // rows to each destination
};

DispatchPlan plan_dispatch(const Routing& routing, const MoeParallel& parallel, int world);

// What this rank receives, from the counts every peer sent it ([world][per_group]): the local
// expert of each arriving row in arrival order, and the rows from each peer.
struct ReceivePlan {
  std::vector<int32_t> local_ids;
  std::vector<size_t> recv_rows;  // rows from each peer
};

ReceivePlan plan_receive(const std::vector<int64_t>& recv_counts, int world, int per_group);

// The bytes this rank sends to and receives from other ranks over one forward: the counts, the
// rows out and their results back (`row_bytes` a row in the layer dtype).
struct ExchangedBytes {
  double sent = 0, received = 0;
};

ExchangedBytes exchanged_bytes(const DispatchPlan& sent, const ReceivePlan& received, int me, int per_group,
                               size_t row_bytes);

}  // namespace moebench
