// `moebench layer` over two nodes on one machine: two separate processes, each started as a user
// starts one per node (`--nnodes 2 --node-rank R --dist-init-addr 127.0.0.1:PORT`), each running
// its tp_size / 2 local ranks (the node's process is its one rank at --tp-size 2, a launcher of
// two ranks at --tp-size 4), on the CPU backend over Gloo:
//  - node 0 records exactly what one two-rank (four-rank) process records, timings aside: the
//    routing and load, the verification, the bytes each rank sent and received, the load across
//    ranks; node 1 prints and records nothing;
//  - bad input exits 2 with one line and records nothing: a --node-rank outside --nnodes, a
//    --tp-size that the nodes cannot share, a node whose peer never arrives (within a short
//    --dist-timeout), a --dist-init-addr port already in use.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dist/tcp_socket.hpp"
#include "unit/cli_runner.hpp"
#include "unit/job_fixture.hpp"
#include "unit/dist_ranks.hpp"

using namespace moebench;
using namespace moebench::testing;

namespace {

const std::string kSmall =
    "layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 64 "
    "--intermediate-size 128 --warmup-iters 0 --benchmark-iters 2 --quiet --seed 5";

std::string nodes_flags(int node_rank, int port) {
  return fmt::format("--nnodes 2 --node-rank {} --dist-init-addr 127.0.0.1:{}", node_rank, port);
}

struct NodeRun {
  int exit_code = -1;
  std::string out, err;
};

// Node 1 (`args1`, in the background) and node 0 (`args0`) started together, as two machines'
// users would; their exit codes and output.
std::pair<NodeRun, NodeRun> run_two_nodes(const ScratchDir& dir, const std::string& args0, const std::string& args1) {
  const std::string script = fmt::format(
      "{} {} > '{}' 2> '{}' & p1=$!; {} {} > '{}' 2> '{}'; c0=$?; wait $p1; c1=$?; echo $c0 $c1 > '{}'",
      MOEBENCH_BINARY, args1, dir.file("n1.out"), dir.file("n1.err"), MOEBENCH_BINARY, args0, dir.file("n0.out"),
      dir.file("n0.err"), dir.file("codes"));
  EXPECT_EQ(std::system(script.c_str()), 0);
  NodeRun n0, n1;
  std::istringstream codes(slurp(dir.file("codes")));
  codes >> n0.exit_code >> n1.exit_code;
  n0.out = slurp(dir.file("n0.out"));
  n0.err = slurp(dir.file("n0.err"));
  n1.out = slurp(dir.file("n1.out"));
  n1.err = slurp(dir.file("n1.err"));
  return {n0, n1};
}

// What a record says apart from time: every figure a timing, a clock or a rate derived from one
// (each name ending in _ms, _gbps or _tflops, and the rates of the metrics) taken out.
nlohmann::json untimed(nlohmann::json j) {
  if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      auto ends = [&](const std::string& tail) {
        return k.size() >= tail.size() && k.compare(k.size() - tail.size(), tail.size(), tail) == 0;
      };
      // Times and what is derived from them: rates, and the exchange's fraction of its ceiling.
      if (ends("_ms") || ends("gbps") || ends("tflops") || ends("_fraction") || ends("_s")) continue;
      out[k] = untimed(it.value());
    }
    return out;
  }
  if (j.is_array())
    for (auto& e : j) e = untimed(e);
  return j;
}

// Node 0's records against those of one process running all the ranks, figure by figure.
void expect_same_figures(const std::vector<RunRecord>& one, const std::vector<RunRecord>& two) {
  ASSERT_EQ(one.size(), two.size());
  ASSERT_FALSE(one.empty());
  for (size_t i = 0; i < one.size(); ++i) {
    const RunRecord &a = one[i], &b = two[i];
    SCOPED_TRACE(a.config);
    EXPECT_EQ(a.model, b.model);
    EXPECT_EQ(a.config, b.config);
    EXPECT_EQ(b.status, RunStatus::success) << b.error_message;
    EXPECT_EQ(a.params, b.params);
    // The same inputs cut the same way into the same ranks: the same outputs, bit for bit.
    EXPECT_EQ(a.metrics["verify_rel_error"], b.metrics["verify_rel_error"]);
    EXPECT_EQ(untimed(a.details), untimed(b.details));
    // The figures compared are there (the comparison would pass over two empty records).
    for (const char* key : {"sent_bytes", "received_bytes", "rank_rows_max", "rank_imbalance"})
      EXPECT_TRUE(b.details["counters"].contains(key)) << key;
    EXPECT_TRUE(b.details["load"].contains("expert_loads"));
    EXPECT_EQ(b.details["ranks"].size(), size_t(b.params["tp_size"].get<int>()));
    for (const auto& rank : b.details["ranks"]) EXPECT_TRUE(rank["verify"]["passed"].get<bool>());
  }
}

struct Layout {
  int tp, ep;
  const char* impl;
};

class TwoNodes : public ::testing::TestWithParam<Layout> {};

}  // namespace

TEST_P(TwoNodes, Node0RecordsWhatOneProcessRecordsAndNode1Nothing) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  const Layout layout = GetParam();
  ScratchDir dir("two-nodes");
  const std::string run = fmt::format("{} --tp-size {} --ep-size {} --impl {} --num-tokens 3,20", kSmall, layout.tp,
                                      layout.ep, layout.impl);
  const CliResult one = run_moebench(run + " --results-db '" + dir.file("one.db") + "'");
  ASSERT_EQ(one.exit_code, 0) << one.err;

  const int port = pick_free_port();
  const auto start = std::chrono::steady_clock::now();
  const auto [n0, n1] = run_two_nodes(dir, fmt::format("{} {} --results-db '{}'", run, nodes_flags(0, port), dir.file("n0.db")),
                                      fmt::format("{} {} --results-db '{}'", run, nodes_flags(1, port), dir.file("n1.db")));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 30);
  ASSERT_EQ(n0.exit_code, 0) << n0.err << n1.err;
  EXPECT_EQ(n1.exit_code, 0) << n1.err;
  EXPECT_NE(n0.out.find(fmt::format("x {} ranks (gloo)", layout.tp)), std::string::npos) << n0.out;
  EXPECT_EQ(n0.err, "") << "--quiet";
  EXPECT_EQ(n1.out, "") << "node 1 prints nothing";
  EXPECT_EQ(n1.err, "");
  EXPECT_FALSE(std::filesystem::exists(dir.file("n1.db"))) << "node 1 records nothing";
  expect_same_figures(stored_records(dir.file("one.db")), stored_records(dir.file("n0.db")));
}

// One rank per node (the node's process is that rank), and two per node (each node's process
// starts its two ranks); pure EP, pure TP and a hybrid.
INSTANTIATE_TEST_SUITE_P(Layouts, TwoNodes,
                         ::testing::Values(Layout{2, 2, "ep"}, Layout{2, 1, "tp"}, Layout{4, 2, "ep,tp"}),
                         [](const auto& info) {
                           return fmt::format("tp{}_ep{}", info.param.tp, info.param.ep);
                         });

TEST(TwoNodesBadInput, InconsistentNodeFlagsExitBeforeAnyRankStarts) {
  ScratchDir dir("two-nodes-flags");
  const std::string base = kSmall + " --num-tokens 4 --results-db '" + dir.file("r.db") + "' ";
  const int port = pick_free_port();
  expect_bad_input(base + fmt::format("--tp-size 2 --nnodes 2 --node-rank 2 --dist-init-addr 127.0.0.1:{}", port),
                   "--node-rank (2) must be below --nnodes (2)");
  expect_bad_input(base + fmt::format("--tp-size 2 --nnodes 2 --node-rank -1 --dist-init-addr 127.0.0.1:{}", port),
                   "--node-rank (-1) must be below --nnodes (2)");
  expect_bad_input(base + fmt::format("--tp-size 3 --ep-size 1 --nnodes 2 --dist-init-addr 127.0.0.1:{}", port),
                   "--tp-size (3) must be divisible by --nnodes (2)");
  expect_bad_input(base + fmt::format("--tp-degree 3 --ep-size 1 --nnodes 2 --dist-init-addr 127.0.0.1:{}", port),
                   "--tp-degree (3) must be divisible by --nnodes (2)");
  expect_bad_input(base + "--tp-size 2 --nnodes 0", "--nnodes (0) must be at least 1");
  expect_bad_input(base + fmt::format("--tp-size 2 --nnodes 2 --dist-init-addr 127.0.0.1:{} --dist-timeout 0", port),
                   "--dist-timeout (0) must be positive");
  expect_bad_input(base + "--tp-size 2 --nnodes 2 --dist-init-addr 127.0.0.1", "--dist-init-addr (\"127.0.0.1\") is not HOST:PORT");
  EXPECT_FALSE(std::filesystem::exists(dir.file("r.db")));
}

TEST(TwoNodesBadInput, APeerThatNeverArrivesIsOneLineWithinTheTimeout) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  ScratchDir dir("two-nodes-alone");
  const std::string db = dir.file("r.db");
  // Node 0 alone (its process one rank, then a launcher of two), and node 1 alone.
  const struct {
    int tp, node;
    std::string line;
  } cases[] = {{2, 0, "rank(s) 1 never arrived at the rendezvous at 127.0.0.1:"},
               {4, 0, "rank(s) 2, 3 never arrived at the rendezvous at 127.0.0.1:"},
               {2, 1, "rank 1 could not reach rank 0's rendezvous at 127.0.0.1:"},
               {4, 1, "could not reach rank 0's rendezvous at 127.0.0.1:"}};
  for (const auto& c : cases) {
    const auto start = std::chrono::steady_clock::now();
    expect_bad_input(fmt::format("{} --tp-size {} --ep-size 2 --num-tokens 4 {} --dist-timeout 1 --results-db '{}'",
                                 kSmall, c.tp, nodes_flags(c.node, pick_free_port()), db),
                     c.line);
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 8);
  }
  EXPECT_FALSE(std::filesystem::exists(db));
}

TEST(TwoNodesBadInput, APortInUseIsOneLineNamingTheFlag) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  ScratchDir dir("two-nodes-port");
  const std::string db = dir.file("r.db");
  const int port = pick_free_port();
  Socket holder = listen_on("127.0.0.1", port, "test");
  for (int tp : {2, 4})
    expect_bad_input(fmt::format("{} --tp-size {} --ep-size 2 --num-tokens 4 {} --dist-timeout 2 --results-db '{}'",
                                 kSmall, tp, nodes_flags(0, port), db),
                     fmt::format("--dist-init-addr 127.0.0.1:{}: port {} is already in use", port, port));
  EXPECT_FALSE(std::filesystem::exists(db));
}
