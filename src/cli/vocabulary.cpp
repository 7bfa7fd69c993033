// The shared flag spellings, helps and the NxDI layout arithmetic (vocabulary.hpp).
#include "cli/vocabulary.hpp"

#include <limits>

#include <fmt/format.h>

#include "core/errors.hpp"
#include "moe/moe_impl.hpp"

namespace moebench::cli {

namespace {

struct ShortAlias {
  const char* typed;
  const char* flag;
};
constexpr ShortAlias kShortAliases[] = {{"-tp", "--tp-size"}, {"-ep", "--ep-size"}};

}  // namespace

std::string impl_help(const std::string& intro) {
  std::string help = intro;
  for (const ImplInfo& info : all_impls()) help += "\n  " + info.name + ": " + info.description;
  return help;
}

std::string backend_help() {
#ifdef MOEBENCH_WITH_CUDA
  return "auto (GPU if present), cuda or cpu";
#else
  return "auto or cpu (this build has no CUDA backend: it was built without nvcc)";
#endif
}

std::string model_tp_size_help() {
  return "ranks in all, one process (one GPU) each, started here or by mpirun/srun/torchrun: attention heads, dense "
         "MLPs and the vocabulary split tp ways; tensor parallel inside the MoE layers = tp_size / ep_size";
}

std::string model_ep_size_help() {
  return "expert-parallel groups: each MoE layer's routed experts split ep ways (impl ep or tp; default tp over "
         "several ranks)";
}

int tp_size_from_moe_tp_degree(int moe_tp_degree, int ep_size, std::optional<int> tp_size) {
  if (moe_tp_degree < 1)
    throw InputError(fmt::format("--moe-tp-degree ({}) must be at least 1: each expert is split that many ways",
                                 moe_tp_degree));
  if (ep_size < 1) throw InputError(fmt::format("--ep-size ({}) must be at least 1", ep_size));
  const int64_t product = int64_t(moe_tp_degree) * ep_size;
  if (tp_size && *tp_size != product)
    throw InputError(fmt::format("--tp-size ({}) is not --moe-tp-degree ({}) x --ep-size ({}) = {}: give --tp-size {}, "
                                 "or leave --tp-size out (moe_tp_degree x moe_ep_degree = tp_degree)",
                                 *tp_size, moe_tp_degree, ep_size, product, product));
  if (product > std::numeric_limits<int>::max())
    throw InputError(fmt::format("--moe-tp-degree ({}) x --ep-size ({}) is too many ranks", moe_tp_degree, ep_size));
  return int(product);
}

std::vector<std::string> expand_short_aliases(int argc, char** argv) {
  std::vector<std::string> args;
  bool options_ended = false;  // after "--" every argument is positional
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i > 0 && !options_ended)
      for (const ShortAlias& a : kShortAliases) {
        const std::string typed = a.typed;
        if (arg == typed)
          arg = a.flag;
        else if (arg.rfind(typed + "=", 0) == 0)
          arg = a.flag + arg.substr(typed.size());
      }
    options_ended = options_ended || (i > 0 && arg == "--");
    args.push_back(arg);
  }
  return args;
}

}  // namespace moebench::cli
