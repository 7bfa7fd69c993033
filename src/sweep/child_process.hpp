#pragma once
// Runs one sweep config in its own child process, so that whatever it does (hang, crash, run
// out of memory, corrupt its CUDA context) ends with it: started by core/subprocess (a new
// process group that dies with the sweep), stdout discarded, stderr captured, killed (the whole
// group) at its timeout.
#include <string>
#include <utility>
#include <vector>

#include "core/subprocess.hpp"
#include "results/classify.hpp"

namespace moebench {

struct ChildSpec {
  std::string executable;
  std::vector<std::string> args;  // after the executable's name
  std::vector<std::pair<std::string, std::string>> env;  // added to the sweep's environment (the last of one name wins)
  double timeout_s = 600;
};

// Waits for the child; keeps the last 64 KiB of its stderr. An exit status that cannot be read
// (the child was reaped elsewhere) reads as exit code -1. Throws RuntimeFailure(Crash) only
// when no child can be started at all (fork or pipe failing).
ChildOutcome run_child(const ChildSpec& spec);

}  // namespace moebench
