// Sweep children: what they inherit (environment, file descriptors) and how they are reaped.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "sweep/child_process.hpp"

using namespace moebench;

namespace {

ChildOutcome run_shell(const std::string& script, std::vector<std::pair<std::string, std::string>> env = {},
                       double timeout_s = 30) {
  return run_child(ChildSpec{"/bin/sh", {"-c", script}, std::move(env), timeout_s});
}

int count_of(const std::string& text, const std::string& word) {
  int n = 0;
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
  return n;
}

// Descriptors above stderr of this test process that point at /dev/null and survive exec: a
// child inherits those whatever the sweep does.
int inherited_dev_null_fds() {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    std::error_code ec;
    if (fd > STDERR_FILENO && std::filesystem::read_symlink(entry.path(), ec) == "/dev/null" &&
        !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
      ++n;
  }
  return n;
}

}  // namespace

TEST(ChildProcess, EnvironmentReachesTheChildAndTheSweepsStaysUntouched) {
  ::setenv("MOEBENCH_TEST_KEPT", "kept", 1);
  ::setenv("MOEBENCH_TEST_REPLACED", "old", 1);
  ::unsetenv("MOEBENCH_TEST_ADDED");
  // A thread that reads the environment all along, as the CUDA runtime's may: it must never
  // see the child's values.
  std::atomic<bool> running{true}, leaked{false};
  std::thread reader([&] {
    while (running) {
      const char* replaced = std::getenv("MOEBENCH_TEST_REPLACED");
      if (std::getenv("MOEBENCH_TEST_ADDED") || !replaced || std::string(replaced) != "old") leaked = true;
    }
  });
  ChildOutcome o;
  for (int i = 0; i < 20; ++i)
    o = run_shell("echo \"$MOEBENCH_TEST_KEPT $MOEBENCH_TEST_REPLACED $MOEBENCH_TEST_ADDED\" >&2",
                  {{"MOEBENCH_TEST_REPLACED", "first"}, {"MOEBENCH_TEST_ADDED", "added"},
                   {"MOEBENCH_TEST_REPLACED", "new"}});
  running = false;
  reader.join();
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.stderr_text, "kept new added\n");  // the last value of a name wins
  EXPECT_FALSE(leaked);
  EXPECT_STREQ(std::getenv("MOEBENCH_TEST_REPLACED"), "old");
  EXPECT_EQ(std::getenv("MOEBENCH_TEST_ADDED"), nullptr);
}

TEST(ChildProcess, ChildGetsNoStrayDevNullDescriptor) {
  const ChildOutcome o = run_shell("ls -l /proc/self/fd >&2");
  ASSERT_EQ(o.exit_code, 0) << o.stderr_text;
  // `ls` writes its listing to stderr, so of the sweep's /dev/null only stdin is left.
  EXPECT_EQ(count_of(o.stderr_text, "/dev/null"), 1 + inherited_dev_null_fds()) << o.stderr_text;
}

TEST(ChildProcess, ALostExitStatusEndsTheWaitAtOnce) {
  // With SIGCHLD ignored the kernel reaps children itself and waitpid fails with ECHILD.
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGCHLD, &ignore, &old);
  const auto start = std::chrono::steady_clock::now();
  const ChildOutcome o = run_shell("exit 0", {}, 20);
  const auto took = std::chrono::steady_clock::now() - start;
  sigaction(SIGCHLD, &old, nullptr);
  EXPECT_FALSE(o.timed_out);
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_EQ(o.exit_code, -1);  // unknown, and never read as success
}
