#include "core/subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace {

// In the child between fork and exec: only async-signal-safe calls, then exec or _exit.
[[noreturn]] void exec_child(const SpawnSpec& spec, const std::vector<char*>& argv, const std::vector<char*>& envp,
                             const std::string& exec_failed, pid_t parent) {
  setpgid(0, 0);                     // its own group: a kill reaches it and all it started
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // and it dies with its parent
  if (getppid() != parent) _exit(127);  // the parent died before prctl
  const int null_fd = open("/dev/null", O_RDWR);
  if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
  if (spec.stdout_fd == SpawnSpec::kDiscard && null_fd >= 0) dup2(null_fd, STDOUT_FILENO);
  else if (spec.stdout_fd >= 0) dup2(spec.stdout_fd, STDOUT_FILENO);
  if (spec.stderr_fd == SpawnSpec::kDiscard && null_fd >= 0) dup2(null_fd, STDERR_FILENO);
  else if (spec.stderr_fd >= 0) dup2(spec.stderr_fd, STDERR_FILENO);
  if (null_fd > STDERR_FILENO) close(null_fd);  // the child gets /dev/null only where asked
  execve(spec.executable.c_str(), argv.data(), envp.data());
  (void)!write(STDERR_FILENO, exec_failed.data(), exec_failed.size());
  _exit(127);
}

// The child's environment: the parent's own with `overrides` put in (the last of one name wins).
// Built before fork and handed to execve, so the parent's environment is never written: setenv
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

std::vector<std::string> self_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> words;
  for (std::string word; std::getline(in, word, '\0');) words.push_back(word);
  if (!words.empty()) words.erase(words.begin());
  return words;
}

pid_t spawn_child(const SpawnSpec& spec) {
  std::vector<std::string> words = {spec.executable};
  words.insert(words.end(), spec.args.begin(), spec.args.end());
  const std::vector<char*> argv = null_terminated(words);
  std::vector<std::string> env = child_environment(spec.env);
  const std::vector<char*> envp = null_terminated(env);
  const std::string exec_failed = fmt::format("moebench: cannot start {}\n", spec.executable);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) exec_child(spec, argv, envp, exec_failed, parent);
  if (pid < 0) throw RuntimeFailure(FailureKind::Crash, fmt::format("fork: {}", std::strerror(errno)));
  setpgid(pid, pid);  // also here, so that a kill at once after fork reaches the group
  return pid;
}

}  // namespace moebench
