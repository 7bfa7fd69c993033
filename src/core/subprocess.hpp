#pragma once
// Starting child processes of moebench: fork/exec into a process group of the child's own, which
// dies with its parent (PR_SET_PDEATHSIG) and whose environment is built before fork. Shared by the
// sweep (one child per config, sweep/child_process.*) and the distributed launcher (one child per
// local rank, dist/launcher.*), which differ only in what they do with the child's output and how
// they wait for it.
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace moebench {

struct SpawnSpec {
  // Where a child's stdout or stderr goes: one of these, or a descriptor of the parent's.
  static constexpr int kInherit = -2;
  static constexpr int kDiscard = -1;  // /dev/null

  std::string executable;
  std::vector<std::string> args;                         // after the executable's name
  std::vector<std::pair<std::string, std::string>> env;  // added to the parent's environment (the last of one name wins)
  int stdout_fd = kDiscard;
  int stderr_fd = kInherit;
};

// Starts the child (stdin is /dev/null) and returns its pid, which is also its process group's id:
// kill(-pid, sig) reaches it and everything it started. A child that cannot exec exits 127 with
// one line on its stderr. Throws RuntimeFailure(Crash) when fork itself fails.
pid_t spawn_child(const SpawnSpec& spec);

// This binary, to run children of the same build: /proc/self/exe.
std::string self_executable();
// This process's arguments after its name, as it was started (/proc/self/cmdline): what a
// launcher passes on to the ranks it starts.
std::vector<std::string> self_arguments();

}  // namespace moebench
