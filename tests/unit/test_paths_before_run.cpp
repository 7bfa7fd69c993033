// Every path a run will write is checked before any work starts: each result file the chosen
// writers write, the store (writable, file and directory), the profile and routing export
// directories. A bad one is bad input (exit 2) with nothing run, printed or created.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "results/results_store.hpp"
#include "unit/cli_runner.hpp"

using namespace moebench::testing;
namespace fs = std::filesystem;

namespace {

const std::string kTinyLayer =
    "layer --manual-config --num-experts 4 --num-experts-per-tok 2 --hidden-size 64 --intermediate-size 64 "
    "--num-tokens 16 --scenarios random --benchmark-iters 2 --warmup-iters 0 --quiet";
const std::string kTinyModel =
    "model --backend cpu --model tiny --batch-size 1 --input-len 4 --output-len 2 --benchmark-iters 1 "
    "--warmup-iters 0 --quiet";

// Refused before anything ran: exit 2, one line, no table, no store created in `dir`.
void expect_refused_before_run(const std::string& args, const fs::path& dir, const std::string& message_part) {
  SCOPED_TRACE(args);
  const CliResult r = run_moebench(args, dir.string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.stderr_lines(), 1) << r.err;
  EXPECT_NE(r.err.find(message_part), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_FALSE(fs::exists(dir / "moebench_results.db"));
}

}  // namespace

TEST(PathsBeforeRun, EveryOutputFileIsCheckedBeforeTheRun) {
  const fs::path dir = fresh_temp_dir("paths-before-run");
  fs::create_directories(dir / "x.csv");
  fs::create_directories(dir / "x.md");
  expect_refused_before_run(kTinyLayer + " --output-format csv --output-file x.csv", dir, "x.csv names a directory");
  expect_refused_before_run(kTinyLayer + " --output-format all --output-file x", dir, "x.csv: is a directory");
  expect_refused_before_run(kTinyModel + " --output-format csv --output-file x", dir, "x.csv: is a directory");
  expect_refused_before_run(kTinyLayer + " --output-file /proc/self/results", dir, "under /proc");
  expect_refused_before_run(kTinyLayer + " --output-file /sys/results", dir, "under /sys");
  expect_refused_before_run(kTinyLayer + " --output-file " + std::string(300, 'n'), dir, "longer than the system");
  expect_refused_before_run(kTinyLayer + " --results-db " + std::string(300, 'd') + ".db", dir, "longer than the system");
  expect_refused_before_run(kTinyLayer + " --profile --profile-dir /proc/traces", dir, "--profile-dir /proc/traces");
  expect_refused_before_run(kTinyLayer + " --export-routing /sys/routing", dir, "--export-routing /sys/routing");
  EXPECT_TRUE(fs::is_directory(dir / "x.csv"));
}

TEST(PathsBeforeRun, AReadOnlyStoreIsRefusedBeforeTheRun) {
  const fs::path dir = fresh_temp_dir("read-only-store");
  fs::permissions(dir, fs::perms::all);  // the unprivileged user below may write here
  const std::string db = (dir / "ro.db").string();
  { moebench::ResultsStore store(db); }
  fs::permissions(db, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  // root writes a read-only file anyway: run as nobody where the tests run as root.
  std::string as_user;
  if (::geteuid() == 0) {
    if (std::system("setpriv --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "root without setpriv";
    as_user = "--reuid=65534 --regid=65534 --clear-groups ";
  }
  const std::string args = kTinyLayer + " --results-db " + db;
  const CliResult r = as_user.empty() ? run_moebench(args)
                                      : run_moebench_as("setpriv " + as_user, args, dir.string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("the file is read-only"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;  // nothing ran
}
