#include "moe/expert_dispatch.hpp"

#include <numeric>

namespace moebench {

DispatchPlan plan_dispatch(const Routing& routing, const MoeParallel& parallel, int world) {
  const int E = routing.num_experts, k = routing.top_k;
  const int per_group = parallel.experts_per_group(E), mtp = parallel.moe_tp_size();
  const int64_t slots = routing.num_tokens * k;
  // The routing slots ordered by expert: first[e] .. first[e + 1] are expert e's.
  std::vector<int64_t> first(size_t(E) + 1, 0);
  for (int32_t e : routing.expert_ids) ++first[size_t(e) + 1];
  std::partial_sum(first.begin(), first.end(), first.begin());
  std::vector<int64_t> slot_of_row(static_cast<size_t>(slots));
  std::vector<int64_t> next(first.begin(), first.end() - 1);
  for (int64_t s = 0; s < slots; ++s) slot_of_row[size_t(next[size_t(routing.expert_ids[size_t(s)])]++)] = s;

  DispatchPlan plan;
  plan.send_counts.assign(size_t(world) * size_t(per_group), 0);
  plan.send_rows.assign(size_t(world), 0);
  for (int d = 0; d < world; ++d) {
    const int g = d / mtp;
    for (int le = 0; le < per_group; ++le) {
      const int e = g * per_group + le;
      plan.send_counts[size_t(d * per_group + le)] = first[size_t(e) + 1] - first[size_t(e)];
    }
    const int64_t begin = first[size_t(g * per_group)], end = first[size_t((g + 1) * per_group)];
    plan.send_rows[size_t(d)] = size_t(end - begin);
    for (int64_t r = begin; r < end; ++r) {
      const int64_t s = slot_of_row[size_t(r)];
      plan.send_slots.push_back(int32_t(s));
      plan.row_token.push_back(int32_t(s / k));
      plan.row_weight.push_back(routing.weights[size_t(s)]);
    }
  }
  return plan;
}

ReceivePlan plan_receive(const std::vector<int64_t>& recv_counts, int world, int per_group) {
  ReceivePlan plan;
  plan.recv_rows.assign(size_t(world), 0);
  for (int s = 0; s < world; ++s)
    for (int le = 0; le < per_group; ++le) {
      const int64_t n = recv_counts[size_t(s * per_group + le)];
      plan.local_ids.insert(plan.local_ids.end(), size_t(n), le);
      plan.recv_rows[size_t(s)] += size_t(n);
    }
  return plan;
}

ExchangedBytes exchanged_bytes(const DispatchPlan& sent, const ReceivePlan& received, int me, int per_group,
                               size_t row_bytes) {
  const double count_bytes = double(size_t(per_group) * sizeof(int64_t));
  ExchangedBytes b;
  for (size_t peer = 0; peer < sent.send_rows.size(); ++peer) {
    if (int(peer) == me) continue;
    // Rows go out and come back as results; rows arrive and go back as results.
    const double rows = double(sent.send_rows[peer] + received.recv_rows[peer]) * double(row_bytes);
    b.sent += count_bytes + rows;
    b.received += count_bytes + rows;
  }
  return b;
}

}  // namespace moebench
