// moebench sweep over a TP x EP matrix on the CPU backend, through the real binary: each cell of
// several ranks runs as a multi-rank `moebench layer` (its own ranks, over Gloo) and is recorded
// as a success with every rank's figures; a cell that cannot run (ep_size above tp_size) is
// InvalidConfig; a cell where rank 1 dies (MOEBENCH_TEST_FAULT=crash on MOEBENCH_TEST_FAULT_RANK
// 1, through the block's env) ends at once, its other rank stopped, and is stored as the Crash it
// was, never as a success, and the sweep goes on to the next cell. "all" in a cell of several
// ranks is the parallel implementations.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>

#include "results/results_store.hpp"
#include "unit/cli_runner.hpp"
#include "unit/job_fixture.hpp"
#include "unit/dist_ranks.hpp"

using namespace moebench;
using namespace moebench::testing;

namespace {

// A block of one small manual layer (`hidden` tells the blocks apart) and `extra` lines.
std::string block(int hidden, const std::string& extra) {
  return "  - manual: {num_experts: 8, num_experts_per_tok: 2, hidden_size: " + std::to_string(hidden) +
         ", intermediate_size: 128}\n    num_tokens: [5]\n    warmup_iters: 0\n    benchmark_iters: 2\n" + extra;
}

}  // namespace

TEST(SweepParallel, TpByEpCellsRunAsRanksAndADeadRankIsStoredAsItsCause) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  ScratchDir dir("sweep-parallel");
  const std::string matrix = dir.file("tp-ep.yaml"), db = dir.file("r.db");
  std::ofstream(matrix) << "timeout_s: 60\nruns:\n"
                        << block(64, "    tp_size: [1, 2]\n    ep_size: [1, 2]\n    impl: [ep, tp]\n")
                        << block(96, "    tp_size: 2\n    ep_size: 2\n    impl: [ep, tp]\n    timeout_s: 30\n"
                                     "    env: {MOEBENCH_TEST_FAULT: crash, MOEBENCH_TEST_FAULT_RANK: \"1\"}\n")
                        << block(128, "    tp_size: 2\n    ep_size: 2\n    impl: ep\n");
  const auto start = std::chrono::steady_clock::now();
  const CliResult r = run_moebench("sweep --backend cpu --matrix '" + matrix + "' --results-db '" + db + "'");
  EXPECT_EQ(r.exit_code, 1) << r.err;  // some cells failed
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 45);

  ResultsStore store(db, ResultsStore::OpenMode::must_exist);
  std::map<std::string, RunRecord> cell;
  for (const RunRecord& rec : store.list({.kind = "layer"})) cell[rec.key()] = rec;
  ASSERT_EQ(cell.size(), 11u) << r.out;

  const std::string m = "manual-e8-k2-h64-i128::";
  for (const char* impl : {"ep", "tp"}) {
    SCOPED_TRACE(impl);
    // One rank: the implementation at world size one, no ranks to report.
    const RunRecord& one = cell[m + "TP1_EP1_" + impl + "_random_T5_bf16"];
    EXPECT_EQ(one.status, RunStatus::success) << one.error_message;
    EXPECT_FALSE(one.details.contains("ranks"));
    // ep_size 2 on one device cannot be.
    const RunRecord& invalid = cell[m + "TP1_EP2_" + impl + "_random_T5_bf16"];
    EXPECT_EQ(invalid.error_type, "InvalidConfig");
    EXPECT_NE(invalid.error_message.find("must be a multiple of --ep-size (2)"), std::string::npos)
        << invalid.error_message;
    // Two ranks, pure TP or pure EP: a multi-rank job, each rank checked.
    for (const char* layout : {"TP2_EP1_", "TP2_EP2_"}) {
      SCOPED_TRACE(layout);
      const RunRecord& two = cell[m + layout + impl + "_random_T5_bf16"];
      EXPECT_EQ(two.status, RunStatus::success) << two.error_message;
      EXPECT_EQ(two.details["world_size"], 2);
      EXPECT_EQ(two.details["communicator"], "gloo");
      ASSERT_EQ(two.details["ranks"].size(), 2u);
      for (const auto& rank : two.details["ranks"]) EXPECT_TRUE(rank["verify"]["passed"].get<bool>());
    }
  }

  // Rank 1 died: the cell failed as a Crash, seen at once (a cell still waiting on its dead
  // peer would have been cut at its 30 s timeout and stored as a Timeout), never a success.
  for (const char* impl : {"ep", "tp"}) {
    const RunRecord& crashed = cell[std::string("manual-e8-k2-h96-i128::TP2_EP2_") + impl + "_random_T5_bf16"];
    EXPECT_EQ(crashed.status, RunStatus::failure) << impl;
    EXPECT_EQ(crashed.error_type, "Crash") << impl << ": " << crashed.error_message;
    EXPECT_NE(crashed.error_message.find("rank 1 (pid"), std::string::npos) << crashed.error_message;
    EXPECT_NE(crashed.error_message.find("signal 11"), std::string::npos) << crashed.error_message;
  }
  // And the sweep went on.
  const RunRecord& after = cell["manual-e8-k2-h128-i128::TP2_EP2_ep_random_T5_bf16"];
  EXPECT_EQ(after.status, RunStatus::success) << after.error_message;
  EXPECT_EQ(after.details["ranks"].size(), 2u);

  const std::vector<RunRecord> summaries = store.list({.kind = "sweep"});
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].params["configs"], 11);
  EXPECT_EQ(summaries[0].params["failed"], 4);
  EXPECT_EQ(store.integrity_check(), "ok");
}

TEST(SweepParallel, AllInACellOfSeveralRanksIsTheParallelImplementations) {
  ScratchDir dir("sweep-parallel-all");
  const std::string matrix = dir.file("all.yaml");
  std::ofstream(matrix) << "runs:\n"
                        << block(64, "    tp_size: [1, 2]\n    impl: all\n")
                        << block(96, "    tp_size: 2\n    impl: [reference, ep]\n");
  const CliResult r = run_moebench("sweep --backend cpu --dry-run --matrix '" + matrix + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> keys;
  for (size_t at = 0; at < r.out.size();) {
    const size_t end = r.out.find('\n', at);
    const std::string line = r.out.substr(at, end - at);
    if (line.rfind("manual-", 0) == 0) keys.push_back(line.substr(0, line.find(' ')));
    at = end == std::string::npos ? r.out.size() : end + 1;
  }
  // One rank: the one-device implementations; two: ep and tp. Names given are kept as given (a
  // one-device one on two ranks is its child's InvalidConfig, as any impossible cell is).
  EXPECT_EQ(keys, (std::vector<std::string>{"manual-e8-k2-h64-i128::TP1_EP1_reference_random_T5_bf16",
                                            "manual-e8-k2-h64-i128::TP2_EP1_ep_random_T5_bf16",
                                            "manual-e8-k2-h64-i128::TP2_EP1_tp_random_T5_bf16",
                                            "manual-e8-k2-h96-i128::TP2_EP1_reference_random_T5_bf16",
                                            "manual-e8-k2-h96-i128::TP2_EP1_ep_random_T5_bf16"}))
      << r.out;
}
