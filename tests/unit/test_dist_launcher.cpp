// moebench's launcher (dist/launcher.hpp): every local rank started with its variables and one
// rendezvous address; one rank dying (a signal, an exit code) stops the others within the grace
// period and is reported, classified; and, end to end, ranks started by the launcher find each
// other through the rendezvous, reduce on Gloo and gather their results to rank 0, as a `layer`
// job will.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/subprocess.hpp"
#include "dist/communicator.hpp"
#include "dist/launcher.hpp"
#include "dist/rendezvous.hpp"

using namespace moebench;

namespace {

std::filesystem::path scratch_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("moebench_{}_{}", name, getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

LaunchSpec shell_ranks(int n, const std::string& script, double grace_s = 5) {
  LaunchSpec spec;
  DistRequest request;
  request.world_size = n;
  spec.node = resolve_rank_env({}, request);
  spec.executable = "/bin/sh";
  spec.args = {"-c", script};
  spec.stop_grace_s = grace_s;
  return spec;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST(DistLauncher, StartsEveryRankWithItsVariables) {
  const auto dir = scratch_dir("launch");
  LaunchSpec spec = shell_ranks(4, "echo \"$MOEBENCH_RANK $MOEBENCH_LOCAL_RANK $MOEBENCH_WORLD_SIZE "
                                   "$MOEBENCH_LOCAL_WORLD_SIZE $MOEBENCH_DIST_INIT_ADDR $EXTRA\" > \"$OUT/$MOEBENCH_RANK\"");
  spec.env = {{"OUT", dir.string()}, {"EXTRA", "extra"}};
  const LaunchOutcome outcome = launch_local_ranks(spec);
  EXPECT_TRUE(outcome.ok) << outcome.message;
  EXPECT_EQ(outcome.exit_code(), 0);
  ASSERT_EQ(outcome.ranks.size(), 4u);
  std::string addr;
  for (int r = 0; r < 4; ++r) {
    std::istringstream line(read_file(dir / std::to_string(r)));
    int rank = -1, local = -1, world = -1, local_world = -1;
    std::string rank_addr, extra;
    line >> rank >> local >> world >> local_world >> rank_addr >> extra;
    EXPECT_EQ(rank, r);
    EXPECT_EQ(local, r);
    EXPECT_EQ(world, 4);
    EXPECT_EQ(local_world, 4);
    EXPECT_EQ(extra, "extra");
    EXPECT_EQ(rank_addr.rfind("127.0.0.1:", 0), 0u) << rank_addr;
    if (r == 0) addr = rank_addr;
    EXPECT_EQ(rank_addr, addr) << "every rank must get one rendezvous address";
  }
  std::filesystem::remove_all(dir);
}

TEST(DistLauncher, KilledRankStopsTheOthers) {
  const auto start = std::chrono::steady_clock::now();
  const LaunchOutcome outcome =
      launch_local_ranks(shell_ranks(4, "if [ \"$MOEBENCH_RANK\" = 2 ]; then sleep 0.2; kill -9 $$; fi; exec sleep 30"));
  EXPECT_LT(seconds_since(start), 5);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.failed_rank, 2);
  EXPECT_EQ(outcome.kind, FailureKind::Crash);
  EXPECT_EQ(outcome.exit_code(), 1);
  EXPECT_NE(outcome.message.find("rank 2 (pid "), std::string::npos) << outcome.message;
  EXPECT_NE(outcome.message.find("was killed by signal 9"), std::string::npos) << outcome.message;
  EXPECT_NE(outcome.message.find("the other 3 rank(s) on this node were stopped"), std::string::npos) << outcome.message;
  for (int r : {0, 1, 3}) {
    EXPECT_TRUE(outcome.ranks[size_t(r)].stopped) << r;
    EXPECT_EQ(outcome.ranks[size_t(r)].signal, SIGTERM) << r;
  }
}

TEST(DistLauncher, RankRefusingItsInputIsAnInputFailure) {
  const LaunchOutcome outcome =
      launch_local_ranks(shell_ranks(2, "if [ \"$MOEBENCH_RANK\" = 1 ]; then exit 2; fi; exec sleep 30"));
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.failed_rank, 1);
  EXPECT_EQ(outcome.kind, FailureKind::InvalidConfig);
  EXPECT_EQ(outcome.exit_code(), 2);
  EXPECT_NE(outcome.message.find("rank 1 (pid "), std::string::npos);
  EXPECT_NE(outcome.message.find("exited with code 2"), std::string::npos) << outcome.message;
}

TEST(DistLauncher, RankIgnoringSigtermIsKilledAfterTheGrace) {
  const auto dir = scratch_dir("grace");
  // Rank 0 fails once rank 1 ignores SIGTERM (it says so with a file).
  LaunchSpec spec = shell_ranks(2,
                                "if [ \"$MOEBENCH_RANK\" = 0 ]; then while [ ! -e \"$OUT/ready\" ]; do sleep 0.01; done; "
                                "exit 3; fi; trap '' TERM; touch \"$OUT/ready\"; exec sleep 30",
                                0.5);
  spec.env = {{"OUT", dir.string()}};
  const auto start = std::chrono::steady_clock::now();
  const LaunchOutcome outcome = launch_local_ranks(spec);
  std::filesystem::remove_all(dir);
  EXPECT_LT(seconds_since(start), 4);
  EXPECT_GE(seconds_since(start), 0.5);
  EXPECT_EQ(outcome.failed_rank, 0);
  EXPECT_EQ(outcome.exit_code(), 3);
  EXPECT_EQ(outcome.ranks[1].signal, SIGKILL);
}

TEST(DistLauncher, ExecutableThatCannotStartFailsItsRank) {
  LaunchSpec spec = shell_ranks(2, "");
  spec.executable = "/nonexistent/moebench";
  spec.args = {};
  const LaunchOutcome outcome = launch_local_ranks(spec);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.exit_code(), 127);
}

// Not a test of its own: the body of each rank that DistLauncher.RanksRendezvousReduceAndGather
// starts (this test binary, run again by the launcher). It is skipped when run any other way.
TEST(DistLauncherRank, RunsAsOneRank) {
  if (!std::getenv("MOEBENCH_RANK")) GTEST_SKIP() << "runs only as a rank of DistLauncher.RanksRendezvousReduceAndGather";
  DistRequest request;
  request.world_size = 4;
  const RankEnv env = resolve_rank_env(current_environment(), request);
  ASSERT_EQ(env.source, RankSource::moebench);
  RendezvousOptions options;
  options.config = {{"num_tokens", 4096}, {"world", env.world_size}};
  options.timeout_s = 10;
  auto rdv = Rendezvous::join(env, options);
  auto comm = make_cpu_communicator(*rdv);
  double sum = env.rank + 1;
  comm->all_reduce_sum(&sum, 1);
  const auto blobs = comm->gather_to_root(fmt::format("rank {} of {} saw {}", env.rank, env.world_size, sum));
  if (env.rank == 0) {
    std::ofstream out(std::getenv("MOEBENCH_TEST_OUT"));
    for (const std::string& b : blobs) out << b << "\n";
  }
}

TEST(DistLauncher, RanksRendezvousReduceAndGather) {
#ifndef MOEBENCH_GLOO_PLUGIN_PATH
  GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
#else
  const auto dir = scratch_dir("e2e");
  DistRequest request;
  request.world_size = 4;
  LaunchSpec spec;
  spec.node = resolve_rank_env({}, request);
  spec.executable = self_executable();
  spec.args = {"--gtest_filter=DistLauncherRank.RunsAsOneRank"};
  spec.env = {{"MOEBENCH_GLOO_PLUGIN", MOEBENCH_GLOO_PLUGIN_PATH}, {"MOEBENCH_TEST_OUT", (dir / "gathered").string()}};
  const LaunchOutcome outcome = launch_local_ranks(spec);
  EXPECT_TRUE(outcome.ok) << outcome.message;
  EXPECT_EQ(read_file(dir / "gathered"),
            "rank 0 of 4 saw 10\nrank 1 of 4 saw 10\nrank 2 of 4 saw 10\nrank 3 of 4 saw 10\n");
  std::filesystem::remove_all(dir);
#endif
}
