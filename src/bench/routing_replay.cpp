// The replay cases of --routing-file (routing_replay.hpp).
#include "bench/routing_replay.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/errors.hpp"
#include "routing/replay_logits.hpp"

namespace moebench {

namespace {

ReplayCase make_case(const RecordedRouting& run, int64_t tokens, const ModelConfig& m, const std::vector<float>& bias,
                     const std::string& path) {
  auto recorded = std::make_shared<const RecordedRouting>(routing_prefix(run, tokens));
  auto logits = std::make_shared<const std::vector<float>>(replay_logits(m, *recorded, bias, path));
  return {"replay:" + run.name, tokens, std::move(recorded), std::move(logits)};
}

}  // namespace

std::vector<ReplayCase> replay_cases(const std::string& path, const ModelConfig& m,
                                     const std::vector<int64_t>& num_tokens, const std::vector<float>& bias) {
  const std::vector<RecordedRouting> runs = load_routing_file(path, m);
  std::vector<ReplayCase> cases;
  if (num_tokens.empty()) {
    for (const RecordedRouting& run : runs) cases.push_back(make_case(run, run.routing.num_tokens, m, bias, path));
    return cases;
  }
  std::vector<std::string> names;
  for (const RecordedRouting& run : runs)
    if (std::find(names.begin(), names.end(), run.name) == names.end()) names.push_back(run.name);
  for (const std::string& name : names)
    for (int64_t n : num_tokens) {
      const RecordedRouting* source = nullptr;
      int64_t most = 0;
      for (const RecordedRouting& run : runs)
        if (run.name == name) {
          most = std::max(most, run.routing.num_tokens);
          if (!source && run.routing.num_tokens >= n) source = &run;
        }
      if (n <= 0) throw InputError(fmt::format("--num-tokens: token counts must be positive (got {})", n));
      if (!source)
        throw InputError(fmt::format("--num-tokens {}: the routing file's run '{}' holds {} tokens at most; replay "
                                     "at most that many", n, name, most));
      cases.push_back(make_case(*source, n, m, bias, path));
    }
  return cases;
}

std::vector<int64_t> replay_token_counts(const std::vector<ReplayCase>& cases) {
  std::set<int64_t> counts;
  for (const ReplayCase& c : cases) counts.insert(c.num_tokens);
  return {counts.begin(), counts.end()};
}

}  // namespace moebench
