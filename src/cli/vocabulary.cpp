#include "cli/vocabulary.hpp"

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
