// moebench: one binary, one subcommand per question (DESIGN.md, "Command line").
// Exit codes: 0 success, 1 a run failed (verification, runtime failure), 2 bad input.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/vocabulary.hpp"
#include "core/build_info.hpp"
#include "core/errors.hpp"
#include "results/results_store.hpp"

namespace moebench::cli {

namespace {
std::string g_invocation;
}

void set_invocation(int argc, char** argv) {
  g_invocation.clear();
  for (int i = 0; i < argc; ++i) {
    std::string arg = i == 0 ? std::string("moebench") : std::string(argv[i]);
    bool plain = !arg.empty() && arg.find_first_of(" \t'\"$") == std::string::npos;
    g_invocation += (i ? " " : "") + (plain ? arg : "'" + arg + "'");
  }
}

const std::string& invocation() { return g_invocation; }

}  // namespace moebench::cli

int main(int argc, char** argv) {
  using namespace moebench;
  CLI::App app{"moebench: a performance lab for Mixture-of-Experts layers and models"};
  app.set_version_flag("--version", std::string(build_version()) + " (" + build_git_revision() + ")");
  app.require_subcommand(0, 1);

  cli::set_invocation(argc, argv);
  std::vector<cli::Command> commands = {
      cli::add_layer_command(app),
      cli::add_info_command(app),
      cli::add_memory_command(app),
      cli::add_model_command(app),
      cli::add_throughput_command(app),
      cli::add_sweep_command(app),
      cli::add_results_command(app),
      cli::add_report_command(app),
  };

  // vLLM's `-tp 8` is read as `--tp-size 8` (cli/vocabulary.hpp); the invocation keeps what was typed.
  std::vector<std::string> args = cli::expand_short_aliases(argc, argv);
  std::vector<char*> arg_pointers;
  for (std::string& a : args) arg_pointers.push_back(a.data());
  try {
    app.parse(int(arg_pointers.size()), arg_pointers.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "moebench: error: %s (see --help)\n", e.what());
    return 2;
  }

  try {
    for (cli::Command& command : commands)
      if (command.app->parsed()) return command.run();
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const InputError& e) {
    std::fprintf(stderr, "moebench: error: %s\n", e.what());
    return 2;
  } catch (const StoreError& e) {
    std::fprintf(stderr, "moebench: %s\n", e.what());
    return 1;
  } catch (const RuntimeFailure& e) {
    std::fprintf(stderr, "moebench: %s: %s\n", failure_kind_name(e.kind()), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moebench: internal error: %s\n", e.what());
    return 1;
  }
}
