// Load statistics of a routing (seed 003's max/min/avg load and max_imbalance columns).
#include <algorithm>
#include <utility>

#include "routing/routing.hpp"

namespace moebench {

LoadStats load_stats(const Routing& r) {
  LoadStats s;
  if (r.num_experts <= 0) return s;
  std::vector<int64_t> loads = expert_loads(r);
  auto [min_it, max_it] = std::minmax_element(loads.begin(), loads.end());
  s.min_load = *min_it;
  s.max_load = *max_it;
  s.avg_load = double(r.num_tokens) * r.top_k / r.num_experts;
  s.max_imbalance = s.avg_load > 0 ? double(s.max_load) / s.avg_load : 0.0;
  s.active_experts = int(std::count_if(loads.begin(), loads.end(), [](int64_t l) { return l > 0; }));
  s.unused_experts = r.num_experts - s.active_experts;
  s.expert_loads = std::move(loads);
  return s;
}

}  // namespace moebench
