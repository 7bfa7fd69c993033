#include "cli/vocabulary.hpp"

namespace moebench::cli {

namespace {

struct ShortAlias {
  const char* typed;
  const char* flag;
};
constexpr ShortAlias kShortAliases[] = {{"-tp", "--tp-size"}, {"-ep", "--ep-size"}};

}  // namespace

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
