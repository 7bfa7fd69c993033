#include "routing/tile_rounding.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace {

int64_t padding_rows(const std::vector<int64_t>& loads, int m) {
  int64_t pad = 0;
  for (int64_t c : loads) pad += (m - c % m) % m;
  return pad;
}

// Weight of an added assignment (t, e) relative to the token's first choice f.
float added_weight(const ModelConfig& model, const float* logits_t, int32_t first, float first_weight, int e) {
  if (model.scoring == ScoringFunc::softmax) return first_weight * std::exp(logits_t[e] - logits_t[first]);
  auto sigmoid = [](float l) { return 1.0f / (1.0f + std::exp(-l)); };
  return first_weight * sigmoid(logits_t[e]) / sigmoid(logits_t[first]);
}

}  // namespace

RoundedRouting round_to_tiles(const ModelConfig& model, const float* logits, const Routing& routing, int m) {
  if (m < 1) throw InputError(fmt::format("tile rounding needs a tile of at least one row (got {})", m));
  const int64_t T = routing.num_tokens;
  const int k = routing.top_k, E = routing.num_experts;
  RoundedRouting out;
  out.routing = routing;
  out.dropped.assign(size_t(T * k), 0);
  const std::vector<int64_t> loads = expert_loads(routing);
  out.padding_rows_before = padding_rows(loads, m);

  // Slots of each expert, and whether a token routes to it.
  std::vector<std::vector<int64_t>> slots(static_cast<size_t>(E));
  for (int64_t s = 0; s < T * k; ++s) slots[size_t(routing.expert_ids[size_t(s)])].push_back(s);

  for (int e = 0; e < E; ++e) {
    const int64_t c = loads[size_t(e)], r = c % m;
    if (r == 0) continue;
    auto logit = [&](int64_t t) { return logits[size_t(t * E + e)]; };
    // "a stronger than b" for expert e: higher logit, then lower token index.
    auto stronger = [&](int64_t a, int64_t b) { return logit(a) != logit(b) ? logit(a) > logit(b) : a < b; };
    if (2 * r <= m && c >= m) {
      std::vector<int64_t> own = slots[size_t(e)];
      std::sort(own.begin(), own.end(), [&](int64_t a, int64_t b) { return stronger(b / k, a / k); });  // weakest first
      for (int64_t i = 0; i < r; ++i) {
        const size_t s = size_t(own[size_t(i)]);
        out.dropped[s] = 1;
        out.routing.weights[s] = 0.0f;
        ++out.num_dropped;
      }
    } else if (2 * r > m && m - r <= T - c) {
      std::vector<uint8_t> routed(size_t(T), 0);
      for (int64_t s : slots[size_t(e)]) routed[size_t(s / k)] = 1;
      std::vector<int64_t> others;
      for (int64_t t = 0; t < T; ++t)
        if (!routed[size_t(t)]) others.push_back(t);
      const int64_t need = m - r;
      std::partial_sort(others.begin(), others.begin() + need, others.end(), stronger);
      std::sort(others.begin(), others.begin() + need);  // listed by token
      for (int64_t i = 0; i < need; ++i) {
        const int64_t t = others[size_t(i)];
        out.added_token.push_back(int32_t(t));
        out.added_expert.push_back(e);
        out.added_weight.push_back(added_weight(model, logits + size_t(t * E), routing.expert_ids[size_t(t * k)],
                                                routing.weights[size_t(t * k)], e));
        ++out.num_added;
      }
    }
  }
  out.padding_rows_after = padding_rows(rounded_expert_loads(out), m);
  return out;
}

std::vector<int64_t> rounded_expert_loads(const RoundedRouting& r) {
  std::vector<int64_t> loads(size_t(r.routing.num_experts), 0);
  for (size_t s = 0; s < r.routing.expert_ids.size(); ++s)
    if (!r.dropped[s]) ++loads[size_t(r.routing.expert_ids[s])];
  for (int32_t e : r.added_expert) ++loads[size_t(e)];
  return loads;
}

}  // namespace moebench
