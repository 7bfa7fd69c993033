#include "dist/launcher.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "core/subprocess.hpp"
#include "dist/tcp_socket.hpp"

namespace moebench {

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(10);

bool failed(const RankExit& r) { return r.signal != 0 || r.exit_code != 0; }

// Reaps `pid` if it has ended; false while it runs.
bool reap(RankExit& r) {
  int status = 0;
  const pid_t waited = waitpid(r.pid, &status, WNOHANG);
  if (waited == 0 || (waited < 0 && errno == EINTR)) return false;
  if (waited < 0) r.exit_code = -1;  // no longer ours to wait for: how it ended is lost, and never a success
  else if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return true;
}

std::string describe(const RankExit& r) {
  if (r.signal) return fmt::format("rank {} (pid {}) was killed by signal {} ({})", r.rank, r.pid, r.signal, strsignal(r.signal));
  return fmt::format("rank {} (pid {}) exited with code {}", r.rank, r.pid, r.exit_code);
}

}  // namespace

int LaunchOutcome::exit_code() const {
  if (ok) return 0;
  for (const RankExit& r : ranks)
    if (r.rank == failed_rank) return r.signal ? 1 : (r.exit_code > 0 ? r.exit_code : 1);
  return 1;
}

LaunchOutcome launch_local_ranks(const LaunchSpec& spec) {
  RankEnv node = spec.node;
  if (node.init_host.empty()) {
    node.init_host = "127.0.0.1";
    node.init_port = pick_free_port();
  }
  const int n = node.local_world_size;
  LaunchOutcome outcome;
  outcome.ranks.resize(size_t(n));
  std::vector<bool> running(size_t(n), false);
  auto stop_all = [&](int sig) {
    for (int i = 0; i < n; ++i)
      if (running[size_t(i)]) kill(-outcome.ranks[size_t(i)].pid, sig);
  };

  for (int i = 0; i < n; ++i) {
    SpawnSpec child{spec.executable, spec.args, spec.env, SpawnSpec::kInherit, SpawnSpec::kInherit};
    for (auto& variable : rank_variables(node, i)) child.env.push_back(std::move(variable));
    RankExit& r = outcome.ranks[size_t(i)];
    r.rank = node.node_rank * n + i;
    try {
      r.pid = spawn_child(child);
    } catch (const RuntimeFailure& e) {
      stop_all(SIGKILL);
      for (int j = 0; j < i; ++j) waitpid(outcome.ranks[size_t(j)].pid, nullptr, 0);
      throw RuntimeFailure(FailureKind::Crash, fmt::format("cannot start rank {}: {}", r.rank, e.what()));
    }
    running[size_t(i)] = true;
  }

  int left = n;
  bool stopping = false;
  Clock::time_point kill_at{};
  while (left > 0) {
    for (int i = 0; i < n; ++i) {
      RankExit& r = outcome.ranks[size_t(i)];
      if (!running[size_t(i)] || !reap(r)) continue;
      running[size_t(i)] = false;
      kill(-r.pid, SIGKILL);  // anything the rank left running in its group goes with it
      --left;
      if (stopping) {
        r.stopped = true;
      } else if (failed(r)) {
        outcome.ok = false;
        outcome.failed_rank = r.rank;
        outcome.kind = r.signal == 0 && r.exit_code == 2 ? FailureKind::InvalidConfig : FailureKind::Crash;
        outcome.message = fmt::format("{}; the other {} rank(s) on this node were stopped", describe(r), left);
        stopping = true;
        stop_all(SIGTERM);
        kill_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(spec.stop_grace_s));
      }
    }
    if (stopping && left > 0 && Clock::now() >= kill_at) {
      stop_all(SIGKILL);
      kill_at = Clock::time_point::max();
    }
    if (left > 0) std::this_thread::sleep_for(kPollInterval);
  }
  return outcome;
}

}  // namespace moebench
