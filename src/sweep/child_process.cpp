#include "sweep/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace {

constexpr size_t kStderrKept = 64 * 1024;
// The exit code reported for a child whose status could not be read: no real exit code, and
// not 0, so that it never passes for a success.
constexpr int kExitStatusLost = -1;

void keep_tail(std::string& text, const char* data, size_t n) {
  text.append(data, n);
  if (text.size() > kStderrKept) text.erase(0, text.size() - kStderrKept);
}

}  // namespace

ChildOutcome run_child(const ChildSpec& spec) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw RuntimeFailure(FailureKind::Crash, fmt::format("sweep: pipe: {}", std::strerror(errno)));
  pid_t pid;
  try {
    pid = spawn_child(SpawnSpec{spec.executable, spec.args, spec.env, SpawnSpec::kDiscard, fds[1]});
  } catch (const RuntimeFailure& e) {
    close(fds[0]);
    close(fds[1]);
    throw RuntimeFailure(FailureKind::Crash, fmt::format("sweep: {}", e.what()));
  }
  close(fds[1]);

  ChildOutcome outcome;
  outcome.timeout_s = spec.timeout_s;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(spec.timeout_s);
  int status = 0;
  bool reaped = false, status_known = true, pipe_open = true;
  char buf[4096];
  while (!reaped) {
    if (pipe_open) {
      pollfd pfd{fds[0], POLLIN, 0};
      if (poll(&pfd, 1, 50) > 0) {
        const ssize_t n = read(fds[0], buf, sizeof buf);
        if (n > 0) keep_tail(outcome.stderr_text, buf, size_t(n));
        if (n == 0) pipe_open = false;
      }
    } else {
      usleep(50 * 1000);
    }
    const pid_t waited = waitpid(pid, &status, WNOHANG);
    reaped = waited == pid;
    if (waited == -1 && errno != EINTR) {
      // The child is no longer ours to wait for (ECHILD: SIGCHLD ignored, or reaped elsewhere):
      // it has ended, how is lost. Waiting on would only spin until the timeout.
      reaped = true;
      status_known = false;
    }
    if (!reaped && std::chrono::steady_clock::now() >= deadline) {
      outcome.timed_out = true;
      kill(-pid, SIGKILL);
      while (waitpid(pid, &status, 0) == -1 && errno == EINTR) {
      }
      reaped = true;
    }
  }
  kill(-pid, SIGKILL);  // anything the child left running in its group goes with it
  // What the child wrote before it ended is still in the pipe.
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  for (ssize_t n; pipe_open && (n = read(fds[0], buf, sizeof buf)) > 0;) keep_tail(outcome.stderr_text, buf, size_t(n));
  close(fds[0]);
  if (!status_known) outcome.exit_code = kExitStatusLost;
  else if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
  return outcome;
}

}  // namespace moebench
