#pragma once
// Runs the real moebench binary for CLI tests and captures exit code, stdout and stderr.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace moebench::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  int stderr_lines() const {
    int n = 0;
    for (char c : err) n += c == '\n';
    return n;
  }
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh empty directory under the system temp dir, removed by the caller if wanted.
inline std::filesystem::path fresh_temp_dir(const std::string& tag) {
  auto dir = std::filesystem::temp_directory_path() /
             ("moebench-test-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// `args` is appended to the binary path as shell words (the tests quote what needs it);
// `prefix` goes before the binary (a command that runs it as another user).
inline CliResult run_moebench_as(const std::string& prefix, const std::string& args, const std::string& cwd) {
  auto dir = fresh_temp_dir("cli");
  auto out = dir / "stdout", err = dir / "stderr";
  std::string cmd = (cwd.empty() ? "" : "cd '" + cwd + "' && ") + prefix + std::string(MOEBENCH_BINARY) + " " + args +
                    " >'" + out.string() + "' 2>'" + err.string() + "'";
  int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove_all(dir);
  return r;
}

inline CliResult run_moebench(const std::string& args, const std::string& cwd = "") {
  return run_moebench_as("", args, cwd);
}

// Bad input: exit code 2, one line on stderr naming the problem, never an internal error,
// nothing on stdout.
inline void expect_bad_input(const std::string& args, const std::string& message_part) {
  SCOPED_TRACE(args);
  CliResult r = run_moebench(args);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.stderr_lines(), 1) << r.err;
  EXPECT_NE(r.err.find(message_part), std::string::npos) << "stderr: " << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos);
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace moebench::testing
