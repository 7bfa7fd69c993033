// route() and expert_loads(): the rule itself lives in ExpertSelector (routing.hpp states it).
#include <stdexcept>

#include "core/parallel.hpp"
#include "routing/expert_selector.hpp"
#include "routing/routing.hpp"

namespace moebench {

Routing route(const ModelConfig& model, const float* logits, int64_t num_tokens,
              const std::vector<float>& bias) {
  if (num_tokens < 0) throw std::invalid_argument("route(): negative token count");
  Routing r;
  r.num_tokens = num_tokens;
  r.top_k = model.top_k;
  r.num_experts = model.num_experts;
  const size_t k = size_t(model.top_k), E = size_t(model.num_experts);
  r.expert_ids.resize(size_t(num_tokens) * k);
  r.weights.resize(size_t(num_tokens) * k);
  ExpertSelector checked(model, bias);  // rejects a bad bias before any thread starts
  parallel_for(num_tokens, [&](int64_t begin, int64_t end) {
    ExpertSelector selector(model, bias);
    for (int64_t t = begin; t < end; ++t)
      selector.route_token(logits + size_t(t) * E, r.expert_ids.data() + size_t(t) * k,
                           r.weights.data() + size_t(t) * k);
  }, 1024);
  return r;
}

std::vector<int64_t> expert_loads(const Routing& r) {
  std::vector<int64_t> loads(size_t(r.num_experts), 0);
  for (int32_t e : r.expert_ids) ++loads[size_t(e)];
  return loads;
}

}  // namespace moebench
