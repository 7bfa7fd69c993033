// moebench: one binary, one subcommand per question (DESIGN.md, "Command line").
// Exit codes: 0 success, 1 a requested configuration did not run or failed (verification, a
// runtime failure, a late output step), 2 bad input before anything ran. Every error is one
// line (cli/error_line), naming the flags as they were typed.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/error_line.hpp"
#include "cli/input_rules.hpp"
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
  cli::add_input_rules(app);

  // vLLM's `-tp 8` is read as `--tp-size 8` (cli/vocabulary.hpp); the invocation keeps what was typed.
  std::vector<std::string> args = cli::expand_short_aliases(argc, argv);
  std::vector<char*> arg_pointers;
  for (std::string& a : args) arg_pointers.push_back(a.data());
  const std::vector<std::string> typed(argv, argv + argc);
  auto fail = [&](const char* prefix, const std::string& message, int code) {
    const std::string line = cli::error_line(message, cli::typed_flag_names(app, typed, args));
    std::fprintf(stderr, "moebench: %s%s\n", prefix, line.c_str());
    return code;
  };
  try {
    app.parse(int(arg_pointers.size()), arg_pointers.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail("error: ", std::string(e.what()) + " (see --help)", 2);
  }

  try {
    cli::check_list_elements(app, args);
    for (cli::Command& command : commands)
      if (command.app->parsed()) return command.run();
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const InputError& e) {
    return fail("error: ", e.what(), 2);
  } catch (const StoreError& e) {
    return fail("", e.what(), 1);
  } catch (const RuntimeFailure& e) {
    return fail("", std::string(failure_kind_name(e.kind())) + ": " + e.what(), 1);
  } catch (const std::exception& e) {
    return fail("internal error: ", e.what(), 1);
  }
}
