#include "sweep/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string_view>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace {

constexpr size_t kStderrKept = 64 * 1024;
// The exit code reported for a child whose status could not be read: no real exit code, and
// not 0, so that it never passes for a success.
constexpr int kExitStatusLost = -1;

// In the child between fork and exec: only async-signal-safe calls, then exec or _exit.
[[noreturn]] void exec_child(const ChildSpec& spec, const std::vector<char*>& argv, const std::vector<char*>& envp,
                             int stderr_fd, pid_t sweep) {
  setpgid(0, 0);                     // its own group: the timeout kills it and all it started
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // and it dies with the sweep
  if (getppid() != sweep) _exit(127);  // the sweep died before prctl
  const int null_fd = open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    if (null_fd > STDERR_FILENO) close(null_fd);  // the child gets /dev/null as stdin and stdout only
  }
  dup2(stderr_fd, STDERR_FILENO);
  execve(spec.executable.c_str(), argv.data(), envp.data());
  const char message[] = "moebench sweep: cannot start the child process\n";
  (void)!write(STDERR_FILENO, message, sizeof message - 1);
  _exit(127);
}

void keep_tail(std::string& text, const char* data, size_t n) {
  text.append(data, n);
  if (text.size() > kStderrKept) text.erase(0, text.size() - kStderrKept);
}

// The child's environment: the sweep's own with `overrides` put in (the last of one name wins).
// Built before fork and handed to execve, so the sweep's environment is never written: setenv
// there would race every other thread that reads it (the CUDA runtime's among them).
std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& overrides) {
  auto overridden_later = [&](std::string_view name, size_t from) {
    for (size_t i = from; i < overrides.size(); ++i)
      if (overrides[i].first == name) return true;
    return false;
  };
  std::vector<std::string> env;
  for (char** entry = environ; *entry; ++entry) {
    const std::string_view text(*entry);
    if (!overridden_later(text.substr(0, text.find('=')), 0)) env.emplace_back(text);
  }
  for (size_t i = 0; i < overrides.size(); ++i)
    if (!overridden_later(overrides[i].first, i + 1)) env.push_back(overrides[i].first + "=" + overrides[i].second);
  return env;
}

std::vector<char*> null_terminated(std::vector<std::string>& words) {
  std::vector<char*> pointers;
  for (std::string& w : words) pointers.push_back(w.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

std::string self_executable() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

ChildOutcome run_child(const ChildSpec& spec) {
  std::vector<std::string> words = {spec.executable};
  words.insert(words.end(), spec.args.begin(), spec.args.end());
  const std::vector<char*> argv = null_terminated(words);
  std::vector<std::string> env = child_environment(spec.env);
  const std::vector<char*> envp = null_terminated(env);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw RuntimeFailure(FailureKind::Crash, fmt::format("sweep: pipe: {}", std::strerror(errno)));
  const pid_t sweep = getpid();
  const pid_t pid = fork();
  if (pid == 0) exec_child(spec, argv, envp, fds[1], sweep);
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    throw RuntimeFailure(FailureKind::Crash, fmt::format("sweep: fork: {}", std::strerror(errno)));
  }
  setpgid(pid, pid);  // also here, so that a kill at once after fork reaches the group

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
