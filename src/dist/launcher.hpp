#pragma once
// moebench's own launcher, like torchrun's --nproc-per-node: the process the user started on a
// node (RankEnv::launches_local_ranks()) starts that node's ranks itself, as children running the
// same executable with the same arguments plus the MOEBENCH_* rank variables (rank_variables()),
// and waits for them. When one rank fails (a signal, or a non-zero exit) the others are stopped
// (SIGTERM, then SIGKILL after a grace period) so that none is left blocked in a collective, and
// the launcher reports the first failure, classified.
//
// The launcher itself is no rank: every rank, local rank 0 included, is a child. A parent that
// was also rank 0 would sit inside collectives and could not watch the other ranks without a
// thread of its own, and its own crash would take the supervision with it; as a pure supervisor
// it always sees a rank die and stops the rest within the grace period, and every rank runs the
// same way (the same code path, its own CUDA context, its own exit status). Rank 0's child
// prints and records the results; the launcher's stdout and stderr are the ranks' (inherited).
// Children are started by core/subprocess, as sweep children are: their own process group each,
// killed with the launcher if it dies.
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "dist/rank_env.hpp"

namespace moebench {

struct LaunchSpec {
  // The node (node.launches_local_ranks()). With no rendezvous host on a single node the launcher
  // gives its ranks 127.0.0.1 and a port free now (should another process take it before rank 0
  // listens, rank 0 fails with the port-in-use line).
  RankEnv node;
  std::string executable;         // usually self_executable()
  std::vector<std::string> args;  // after the executable's name: usually the launcher's own
  std::vector<std::pair<std::string, std::string>> env;  // added for every rank, besides the rank variables
  double stop_grace_s = 5;        // after a failure: SIGTERM to the others, SIGKILL this much later
};

struct RankExit {
  int rank = 0;  // global
  pid_t pid = 0;
  int exit_code = 0;  // when it exited
  int signal = 0;     // when a signal ended it (0 otherwise)
  bool stopped = false;  // stopped by the launcher after another rank failed
};

struct LaunchOutcome {
  std::vector<RankExit> ranks;  // by local rank
  bool ok = true;               // every rank exited 0
  FailureKind kind = FailureKind::Crash;  // of the first failure, when !ok
  std::string message;                    // one line, when !ok
  int failed_rank = -1;                   // global rank of the first failure
  // The launcher's exit status: 0, the failed rank's own exit code (2 for bad input: the rank
  // printed the line), or 1 for a rank ended by a signal.
  int exit_code() const;
};

// Starts node.local_world_size ranks and waits for all of them. Throws RuntimeFailure(Crash) only
// when a rank cannot be started at all (the ranks already started are stopped first).
LaunchOutcome launch_local_ranks(const LaunchSpec& spec);

}  // namespace moebench
