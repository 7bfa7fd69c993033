// The layout flags (parallel_options.hpp), bound to a job's tp_size and ep_size.
#include "cli/parallel_options.hpp"

#include <memory>
#include <optional>

#include "cli/vocabulary.hpp"

namespace moebench::cli {

std::function<void()> add_parallel_flags(CLI::App& app, int& tp_size, int& ep_size, const std::string& tp_help,
                                         const std::string& ep_help) {
  CLI::Option* tp = app.add_option(kTpSizeFlags, tp_size, tp_help)->capture_default_str();
  app.add_option(kEpSizeFlags, ep_size, ep_help)->capture_default_str();
  auto moe_tp = std::make_shared<std::optional<int>>();
  app.add_option(kMoeTpDegreeFlags, *moe_tp,
                 "NxDI's moe_tp_degree: each expert split this many ways inside its expert-parallel group; "
                 "tp_size = moe_tp_degree x ep_size (--tp-size, if given too, must equal it)");
  return [tp, moe_tp, &tp_size, &ep_size] {
    if (!*moe_tp) return;
    tp_size = tp_size_from_moe_tp_degree(**moe_tp, ep_size, tp->count() > 0 ? std::optional<int>(tp_size) : std::nullopt);
  };
}

}  // namespace moebench::cli
