#pragma once
// Runs ranks as real processes for the dist tests: one fork per rank, each running `body`, which
// returns "" when every check passed, or what failed. An exception ends a rank with its type and
// line. The parent waits for all of them up to a limit and kills what is left, so that a rank
// that hangs shows as hung rather than hanging the test.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/errors.hpp"
#include "dist/rank_env.hpp"

namespace moebench::testing {

// Whether this test binary was built with the Gloo plugin (libgloo-dev): if so, points
// MOEBENCH_GLOO_PLUGIN at it, so that CPU ranks of this process and of the binaries it starts load
// it. Multi-rank CPU tests skip without it.
inline bool gloo_plugin_built() {
#ifdef MOEBENCH_GLOO_PLUGIN_PATH
  setenv("MOEBENCH_GLOO_PLUGIN", MOEBENCH_GLOO_PLUGIN_PATH, 1);
  return true;
#else
  return false;
#endif
}

struct RankRun {
  int rank = 0;
  bool hung = false;
  int exit_code = -1;
  int signal = 0;
  std::string message;  // the body's failure, or "InputError: ...", "RuntimeFailure(Timeout): ..."
  double seconds = 0;   // from the start of all ranks until this one ended
  bool ok() const { return !hung && signal == 0 && exit_code == 0 && message.empty(); }
};

// The RankEnv moebench's launcher would give rank `rank` of `world` on one node.
inline RankEnv local_rank_env(int rank, int world, int port) {
  RankEnv r;
  r.source = RankSource::moebench;
  r.rank = rank;
  r.world_size = world;
  r.local_rank = rank;
  r.local_world_size = world;
  r.init_host = "127.0.0.1";
  r.init_port = port;
  return r;
}

inline std::string describe_exception() {
  try {
    throw;
  } catch (const InputError& e) {
    return std::string("InputError: ") + e.what();
  } catch (const RuntimeFailure& e) {
    return std::string("RuntimeFailure(") + failure_kind_name(e.kind()) + "): " + e.what();
  } catch (const std::exception& e) {
    return std::string("exception: ") + e.what();
  }
}

// Runs `body(rank)` in a process of its own for each rank in `which`.
inline std::vector<RankRun> run_ranks(const std::vector<int>& which, const std::function<std::string(int)>& body,
                                      double limit_s = 20) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<RankRun> runs(which.size());
  std::vector<pid_t> pids(which.size());
  std::vector<int> pipes(which.size());
  for (size_t i = 0; i < which.size(); ++i) {
    int fds[2];
    if (pipe(fds) != 0) std::abort();
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      std::string message;
      try {
        message = body(which[i]);
      } catch (...) {
        message = describe_exception();
      }
      if (!message.empty()) (void)!write(fds[1], message.data(), message.size());
      _exit(message.empty() ? 0 : 1);  // no gtest teardown in a rank
    }
    close(fds[1]);
    pids[i] = pid;
    pipes[i] = fds[0];
    runs[i].rank = which[i];
  }
  size_t left = which.size();
  std::vector<bool> done(which.size(), false);
  while (left > 0) {
    const bool over = std::chrono::steady_clock::now() - start > std::chrono::duration<double>(limit_s);
    for (size_t i = 0; i < which.size(); ++i) {
      if (done[i]) continue;
      if (over) {
        kill(pids[i], SIGKILL);
        runs[i].hung = true;
      }
      int status = 0;
      if (waitpid(pids[i], &status, over ? 0 : WNOHANG) != pids[i]) continue;
      done[i] = true;
      --left;
      runs[i].seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (WIFEXITED(status)) runs[i].exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) runs[i].signal = WTERMSIG(status);
      char buf[4096];
      for (ssize_t n; (n = read(pipes[i], buf, sizeof buf)) > 0;) runs[i].message.append(buf, size_t(n));
      close(pipes[i]);
    }
    if (left > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return runs;
}

inline std::vector<int> all_ranks(int n) {
  std::vector<int> v;
  for (int r = 0; r < n; ++r) v.push_back(r);
  return v;
}

}  // namespace moebench::testing
