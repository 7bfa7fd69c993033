#include "bench/layer_groups.hpp"

#include <algorithm>

namespace moebench {

std::vector<LayerResultGroup> group_layer_results(const std::vector<LayerResult>& results) {
  std::vector<std::string> scenarios;
  for (const LayerResult& r : results)
    if (std::find(scenarios.begin(), scenarios.end(), r.scenario) == scenarios.end()) scenarios.push_back(r.scenario);

  std::vector<LayerResultGroup> groups;
  for (const std::string& scenario : scenarios) {
    const size_t first = groups.size();
    for (const LayerResult& r : results) {
      if (r.scenario != scenario) continue;
      auto it = std::find_if(groups.begin() + std::ptrdiff_t(first), groups.end(),
                             [&](const LayerResultGroup& g) { return g.num_tokens == r.num_tokens; });
      if (it == groups.end()) {
        groups.push_back({scenario, r.num_tokens, {}});
        it = groups.end() - 1;
      }
      it->results.push_back(&r);
    }
  }
  return groups;
}

}  // namespace moebench
