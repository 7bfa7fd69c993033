#pragma once
// How subcommands plug into main: each cli/cmd_*.cpp adds its CLI11 subcommand and returns
// it with the function that runs it once the command line has been parsed. Parsing only:
// the work is done by the library (DESIGN.md, src/cli/).
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace moebench::cli {

struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command add_layer_command(CLI::App& app);
Command add_info_command(CLI::App& app);
Command add_memory_command(CLI::App& app);
Command add_model_command(CLI::App& app);
Command add_throughput_command(CLI::App& app);
Command add_sweep_command(CLI::App& app);
Command add_results_command(CLI::App& app);
Command add_report_command(CLI::App& app);

// The command line as typed (recorded with results so a figure can be reproduced).
void set_invocation(int argc, char** argv);
const std::string& invocation();

}  // namespace moebench::cli
