// `moebench layer` over several CPU ranks (bench/parallel_layer_job.hpp) on the Gloo plugin:
//  - in the test process, forked ranks running the ep and tp layers on their part of one batch,
//    each rank's output compared with the one-device reference layer's output for its tokens;
//  - through the binary, every layout (pure EP, pure TP, hybrid) on 2, 4 and 8 ranks, all three
//    scenarios, token counts below the rank count (ranks without tokens) and skewed routing
//    (experts without tokens), passing the run's own check on every rank, one record per row
//    with every rank's figures; rank 0's gathered figures against a one-rank run's;
//  - a rank that dies fails the run within seconds with a failure recorded and no success; a rank
//    running another configuration is refused, the field named; bad input exits 2 before any
//    rank starts, nothing recorded.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.hpp"
#include "dist/communicator.hpp"
#include "dist/rendezvous.hpp"
#include "dist/tcp_socket.hpp"
#include "moe/layer_weights.hpp"
#include "moe/moe_impl.hpp"
#include "routing/scenarios.hpp"
#include "unit/cli_runner.hpp"
#include "unit/dist_ranks.hpp"
#include "unit/job_fixture.hpp"

using namespace moebench;
using namespace moebench::testing;

namespace {

const std::string kShape =
    "--manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 64 --intermediate-size 128 "
    "--warmup-iters 0 --benchmark-iters 2 --quiet";
const std::string kSmall = "layer --backend cpu " + kShape;

ModelConfig small_model() {
  ModelConfig m;
  m.name = "small-parallel";
  m.num_experts = 8;
  m.top_k = 2;
  m.hidden_size = 64;
  m.moe_intermediate_size = 128;
  m.num_shared_experts = 1;
  m.shared_intermediate_size = 96;
  return m;
}

const ImplInfo& cpu_impl(const std::string& name) {
  for (const ImplInfo& info : all_impls())
    if (info.name == name && info.backend == BackendKind::cpu) return info;
  throw std::runtime_error("no CPU implementation " + name);
}

// out = impl over `tokens` rows of the global batch starting at `first`, on `backend`.
std::vector<uint16_t> run_layer(Backend& backend, const ImplInfo& info, const LayerSpec& spec,
                                const LayerWeightStore& weights, const std::vector<float>& logits, int64_t first,
                                int64_t tokens) {
  const int64_t H = spec.model.hidden_size, E = spec.model.num_experts;
  LayerSpec s = spec;
  s.max_tokens = std::max<int64_t>(tokens, 1);
  std::unique_ptr<MoeImpl> impl = info.make(backend);
  impl->prepare(s, weights.view());
  std::vector<uint16_t> x(size_t(tokens * H)), out(size_t(tokens * H), 0xFFFF);
  if (tokens > 0)
    backend.fill_synthetic(x.data(), spec.dtype, x.size(), spec.seed, hidden_states_stream(0), uint64_t(first * H),
                           hidden_states_scale());
  LayerArgs args;
  args.x = x.data();
  args.logits = logits.data() + size_t(first * E);
  args.out = out.data();
  args.num_tokens = tokens;
  impl->forward(args);
  return out;
}

double rel_diff(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b, size_t from, DType dtype) {
  double d2 = 0, r2 = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = half_bits_to_float(a[i], dtype), y = half_bits_to_float(b[from + i], dtype);
    d2 += (x - y) * (x - y);
    r2 += y * y;
  }
  return r2 > 0 ? std::sqrt(d2 / r2) : std::sqrt(d2);
}

// Every rank runs `impl` on its part of one batch of `tokens`; its rows must match the
// one-device reference layer's rows of the same tokens.
void expect_ranks_match_reference(const std::string& impl, int tp, int ep, int64_t tokens, Scenario scenario) {
  const int port = pick_free_port();
  const auto runs = run_ranks(all_ranks(tp), [&](int rank) -> std::string {
    auto backend = make_backend(BackendKind::cpu);
    LayerSpec spec;
    spec.model = small_model();
    spec.seed = 7;
    spec.max_tokens = tokens;
    const std::vector<float> logits = scenario_logits(spec.model, scenario, tokens, 3.0, spec.seed);
    LayerWeightStore weights(*backend, spec);
    const std::vector<uint16_t> reference =
        run_layer(*backend, cpu_impl("reference"), spec, weights, logits, 0, tokens);

    RendezvousOptions options;
    options.timeout_s = 10;
    std::unique_ptr<Communicator> comm;
    {
      auto rendezvous = Rendezvous::join(local_rank_env(rank, tp, port), options);
      comm = make_cpu_communicator(*rendezvous);
    }
    spec.parallel = {tp, ep, rank, comm.get()};
    const ImplInfo& info = cpu_impl(impl);
    const auto [first, end] = info.rank_tokens == RankTokens::token_slice ? even_part(tokens, rank, tp)
                                                                          : std::pair<int64_t, int64_t>{0, tokens};
    const std::vector<uint16_t> out = run_layer(*backend, info, spec, weights, logits, first, end - first);
    const double diff = rel_diff(out, reference, size_t(first * spec.model.hidden_size), spec.dtype);
    if (!(diff < 1e-2)) return fmt::format("rank {}: relative difference {} from the reference", rank, diff);
    return "";
  });
  for (const RankRun& r : runs) EXPECT_TRUE(r.ok()) << impl << " rank " << r.rank << ": " << r.message;
}

}  // namespace

TEST(ParallelLayerRanks, EachRanksOutputIsTheReferenceLayersOutput) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  // 3 tokens on 4 ranks: rank 0 has none of its own; skewed routing leaves experts without rows.
  expect_ranks_match_reference("ep", 4, 2, 3, Scenario::imbalanced);
  expect_ranks_match_reference("tp", 4, 2, 3, Scenario::imbalanced);
  expect_ranks_match_reference("ep", 2, 1, 17, Scenario::random);
  expect_ranks_match_reference("tp", 2, 2, 17, Scenario::random);
}

TEST(ParallelLayerRanks, OneRankExchangesWithItself) {
  auto backend = make_backend(BackendKind::cpu);
  LayerSpec spec;
  spec.model = small_model();
  spec.max_tokens = 9;
  const std::vector<float> logits = scenario_logits(spec.model, Scenario::random, 9, 3.0, 0);
  LayerWeightStore weights(*backend, spec);
  const auto reference = run_layer(*backend, cpu_impl("reference"), spec, weights, logits, 0, 9);
  for (const char* impl : {"ep", "tp"})
    EXPECT_LT(rel_diff(run_layer(*backend, cpu_impl(impl), spec, weights, logits, 0, 9), reference, 0, spec.dtype),
              1e-2) << impl;
}

TEST(ParallelLayerRanks, BindingAnotherLayersWeightsRunsThatLayer) {
  auto backend = make_backend(BackendKind::cpu);
  LayerSpec spec, other;
  spec.model = small_model();
  spec.max_tokens = 6;
  other = spec;
  other.seed = 99;
  const std::vector<float> logits = scenario_logits(spec.model, Scenario::random, 6, 3.0, 0);
  LayerWeightStore weights(*backend, spec), other_weights(*backend, other);
  const auto reference = run_layer(*backend, cpu_impl("reference"), spec, weights, logits, 0, 6);
  std::vector<uint16_t> x(6 * 64);
  backend->fill_synthetic(x.data(), spec.dtype, x.size(), spec.seed, hidden_states_stream(0), 0, hidden_states_scale());
  for (const char* name : {"ep", "tp"}) {
    std::unique_ptr<MoeImpl> impl = cpu_impl(name).make(*backend);
    impl->prepare(spec, other_weights.view());
    impl->bind_weights(weights.view());
    std::vector<uint16_t> out(x.size());
    impl->forward({x.data(), logits.data(), out.data(), 6});
    EXPECT_LT(rel_diff(out, reference, 0, spec.dtype), 1e-2) << name;
  }
}

// tp_size, ep_size: pure EP, pure TP and hybrids on 2, 4 and 8 ranks.
class ParallelLayerLayout : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(ParallelLayerLayout, EveryRankPassesItsCheckAndRank0RecordsOneRowEach) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  const auto [tp, ep] = GetParam();
  ScratchDir dir("parallel-layout");
  const std::string db = dir.file("r.db");
  const auto start = std::chrono::steady_clock::now();
  const CliResult r = run_moebench(fmt::format("{} --tp-size {} --ep-size {} --num-tokens 3,20 --results-db '{}'",
                                               kSmall, tp, ep, db));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 30);
  EXPECT_NE(r.out.find(fmt::format("x {} ranks (gloo)", tp)), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("rank"), std::string::npos) << "only rank 0 speaks, and --quiet: " << r.err;
  const std::vector<RunRecord> records = stored_records(db);
  ASSERT_EQ(records.size(), 3u * 2u * 2u);  // scenarios x token counts x {ep, tp}
  for (const RunRecord& rec : records) {
    SCOPED_TRACE(rec.config);
    EXPECT_EQ(rec.status, RunStatus::success) << rec.error_message;
    EXPECT_EQ(rec.params["tp_size"], tp);
    EXPECT_EQ(rec.params["ep_size"], ep);
    const auto& ranks = rec.details["ranks"];
    ASSERT_EQ(ranks.size(), size_t(tp));
    int64_t tokens = 0;
    for (const auto& rank : ranks) {
      EXPECT_TRUE(rank["verify"]["passed"].get<bool>());
      tokens += rank["tokens"].get<int64_t>();
    }
    const int64_t batch = rec.params["num_tokens"];
    auto any_rank = [&](const char* field) {
      return std::any_of(ranks.begin(), ranks.end(), [&](const auto& rank) { return rank[field] == 0; });
    };
    // 3 tokens: a rank of 4 or 8 has none of its own; 6 rows over 8 expert-parallel ranks leave
    // some without rows.
    if (rec.params["impl"] == "ep" && batch == 3 && tp >= 4) EXPECT_TRUE(any_rank("tokens"));
    if (batch == 3 && ep == 8) EXPECT_TRUE(any_rank("expert_rows"));
    // ep: the ranks' slices make the batch; tp: every rank takes it whole.
    EXPECT_EQ(tokens, rec.params["impl"] == "ep" ? batch : batch * tp);
    for (const char* counter : {"dispatch_ms", "expert_ms", "combine_ms", "sent_bytes", "rank_imbalance",
                                "comm_busbw_gbps", "comm_busbw_fraction"})
      EXPECT_TRUE(rec.details["counters"].contains(counter)) << counter;
    // Beside the exchange, the ceiling of its collective measured on this run's communicator.
    const auto& exchange = rec.details["exchange_ceilings"];
    EXPECT_EQ(exchange["communicator"], "gloo");
    const char* collective = rec.params["impl"] == "ep" ? "alltoall" : "all_reduce";
    EXPECT_EQ(exchange[collective]["ranks"], tp);
    EXPECT_GT(exchange[collective]["busbw_gbps"].get<double>(), 0);
    const std::string ceiling = rec.params["impl"] == "ep" ? "alltoall_busbw_gbps" : "allreduce_busbw_gbps";
    EXPECT_EQ(rec.details["counters"][ceiling], exchange[collective]["busbw_gbps"]);
    const double busbw = rec.details["counters"]["comm_busbw_gbps"].get<double>();
    EXPECT_GE(busbw, 0);
    EXPECT_DOUBLE_EQ(rec.details["counters"]["comm_busbw_fraction"].get<double>(),
                     busbw / exchange[collective]["busbw_gbps"].get<double>());
  }
  EXPECT_NE(r.out.find(fmt::format("# exchange ceilings: all-to-all busbw ")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(fmt::format("(gloo, {} ranks, 4 MiB, nccl-tests' busbw)", tp)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("alltoall_busbw_gbps="), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("allreduce_busbw_gbps="), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Layouts, ParallelLayerLayout,
                         ::testing::Values(std::pair{2, 2}, std::pair{2, 1}, std::pair{4, 4}, std::pair{4, 1},
                                           std::pair{4, 2}, std::pair{8, 8}, std::pair{8, 1}, std::pair{8, 2}),
                         [](const auto& info) {
                           return fmt::format("tp{}_ep{}", info.param.first, info.param.second);
                         });

TEST(ParallelLayerJob, EveryRankWritesItsTracesAndRank0TheRoutingAndFiles) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  ScratchDir dir("parallel-files");
  const CliResult r = run_moebench(fmt::format(
      "{} --tp-size 2 --ep-size 2 --impl ep --num-tokens 4 --scenarios random --no-record --profile --profile-dir '{}' "
      "--export-routing '{}' --output-format csv --output-file '{}'",
      kSmall, dir.file("traces"), dir.file("routing"), dir.file("out")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* rank : {"rank0", "rank1"})
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(dir.file("traces")) / rank /
                                        "manual-e8-k2-h64-i128_ep_random_4.trace.json"))
        << rank << ": " << r.err;
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(dir.file("routing")) / "manifest.json"));
  const std::string csv = slurp(dir.file("out") + ".csv");
  EXPECT_NE(csv.find("ep,random,4,2,2"), std::string::npos) << csv;
}

TEST(ParallelLayerJob, Rank0sFiguresAgreeWithAOneRankRun) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  ScratchDir dir("parallel-agree");
  const std::string one = dir.file("one.db"), four = dir.file("four.db");
  const std::string common = kSmall + " --num-tokens 24 --scenarios imbalanced --seed 3";
  ASSERT_EQ(run_moebench(common + " --impl reference --results-db '" + one + "'").exit_code, 0);
  const CliResult r = run_moebench(common + " --tp-size 4 --ep-size 2 --impl ep --results-db '" + four + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const RunRecord a = stored_records(one).at(0), b = stored_records(four).at(0);
  EXPECT_EQ(a.model, b.model);
  // The routing of the whole batch, the work and the roofline inputs are the same layer's.
  for (const char* key : {"expert_loads", "active_experts", "max_load", "min_load"})
    EXPECT_EQ(a.details["load"][key], b.details["load"][key]) << key;
  EXPECT_EQ(a.details["flops"], b.details["flops"]);
  EXPECT_EQ(a.details["bytes_min"], b.details["bytes_min"]);
  // Every (token, expert) row reaches both ranks of its expert's group (moe_tp_size 2).
  double rows = 0;
  for (const auto& rank : b.details["ranks"]) rows += rank["expert_rows"].get<double>();
  EXPECT_EQ(rows, 24 * 2 * 2);
  EXPECT_NEAR(a.metrics["verify_rel_error"].get<double>(), b.metrics["verify_rel_error"].get<double>(), 5e-3);
}

// MOEBENCH_TEST_FAULT on one rank (MOEBENCH_TEST_FAULT_RANK) for the life of the guard.
struct RankFault {
  RankFault(const char* fault, int rank) : fault_(fault) {
    ::setenv("MOEBENCH_TEST_FAULT_RANK", std::to_string(rank).c_str(), 1);
  }
  ~RankFault() { ::unsetenv("MOEBENCH_TEST_FAULT_RANK"); }
  TestFault fault_;
};

TEST(ParallelLayerJob, ARankThatDiesFailsTheRunWithAFailureRecorded) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  for (int dying : {2, 0}) {
    SCOPED_TRACE(dying);
    ScratchDir dir("parallel-crash");
    const std::string db = dir.file("r.db");
    const auto start = std::chrono::steady_clock::now();
    CliResult r;
    {
      RankFault fault("crash", dying);
      r = run_moebench(fmt::format("{} --tp-size 4 --ep-size 2 --num-tokens 8 --results-db '{}'", kSmall, db));
    }
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 20);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(fmt::format("rank {} (pid", dying)), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("random"), std::string::npos) << "no table of a failed run: " << r.out;
    const std::vector<RunRecord> records = stored_records(db);
    ASSERT_EQ(records.size(), 3u * 2u);  // every planned row: scenarios x {ep, tp}
    for (const RunRecord& rec : records) {
      EXPECT_EQ(rec.status, RunStatus::failure);
      EXPECT_EQ(rec.error_type, "Crash");
      EXPECT_NE(rec.error_message.find("signal 11"), std::string::npos) << rec.error_message;
    }
  }
}

// Ranks started as torchrun starts them (RANK, WORLD_SIZE, MASTER_ADDR...), each with `args` and
// the variables extra_env(r). Returns each rank's exit code; their output lands in DIR/rank<r>.
std::vector<int> run_as_torchrun(const ScratchDir& dir, int world, const std::string& args,
                                 const std::function<std::string(int)>& extra_env) {
  const int port = pick_free_port();
  std::string script;
  for (int r = world - 1; r >= 0; --r)
    script += fmt::format("{} RANK={} LOCAL_RANK={} WORLD_SIZE={} LOCAL_WORLD_SIZE={} MASTER_ADDR=127.0.0.1 "
                          "MASTER_PORT={} {} {} > '{}' 2>&1{}",
                          extra_env(r), r, r, world, world, port, MOEBENCH_BINARY, args,
                          dir.file(fmt::format("rank{}", r)),
                          r > 0 ? fmt::format(" & p{}=$!; ", r) : "; c0=$?; ");
  for (int r = 1; r < world; ++r) script += fmt::format("wait $p{}; c{}=$?; ", r, r);
  script += "echo";
  for (int r = 0; r < world; ++r) script += fmt::format(" $c{}", r);
  script += fmt::format(" > '{}'", dir.file("codes"));
  EXPECT_EQ(std::system(script.c_str()), 0);
  std::istringstream codes(slurp(dir.file("codes")));
  std::vector<int> out(size_t(world), -1);
  for (int& code : out) codes >> code;
  return out;
}

TEST(ParallelLayerJob, RanksStartedByTorchrunRunAsOne) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  ScratchDir dir("parallel-torchrun");
  const std::string db = dir.file("r.db");
  const std::vector<int> codes = run_as_torchrun(
      dir, 3,
      fmt::format("{} --tp-size 3 --ep-size 1 --impl tp --num-tokens 5 --scenarios balanced --results-db '{}'", kSmall,
                  db),
      [](int) { return ""; });
  EXPECT_EQ(codes, (std::vector<int>{0, 0, 0})) << slurp(dir.file("rank0")) << slurp(dir.file("rank1"));
  EXPECT_NE(slurp(dir.file("rank0")).find("x 3 ranks (gloo)"), std::string::npos);
  EXPECT_EQ(slurp(dir.file("rank1")), "") << "only rank 0 speaks";
  const std::vector<RunRecord> records = stored_records(db);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].status, RunStatus::success);
  EXPECT_EQ(records[0].details["ranks"].size(), 3u);
}

TEST(ParallelLayerJob, UnderTorchrunRank0RecordsTheFailure) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  ScratchDir dir("parallel-torchrun-crash");
  const std::string db = dir.file("r.db");
  const std::vector<int> codes = run_as_torchrun(
      dir, 2,
      fmt::format("{} --tp-size 2 --ep-size 2 --impl ep --num-tokens 5 --scenarios random --results-db '{}'", kSmall,
                  db),
      [](int r) { return r == 1 ? "MOEBENCH_TEST_FAULT=crash" : ""; });
  EXPECT_EQ(codes[0], 1) << slurp(dir.file("rank0"));
  const std::vector<RunRecord> records = stored_records(db);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].status, RunStatus::failure);
  // Rank 0 saw its peer go, as a failed collective (no launcher of moebench's saw the signal): the
  // record says so, classified as the collective library's failure.
  EXPECT_EQ(records[0].error_type, "NcclError");
  EXPECT_NE(records[0].error_message.find("rank 0: gloo"), std::string::npos) << records[0].error_message;
}

TEST(ParallelLayerJob, ARankOfAnotherConfigurationIsRefused) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  ScratchDir dir("parallel-differs");
  const std::string db = dir.file("r.db");
  // Two ranks started as torchrun starts them, the second with another token count.
  const int port = pick_free_port();
  const std::string env = fmt::format("WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT={}", port);
  const std::string rank = fmt::format("{} --tp-size 2 --ep-size 2 --results-db '{}'", kSmall, db);
  const std::string script = fmt::format(
      "{} RANK=1 LOCAL_RANK=1 {} {} --num-tokens 8 > '{}' 2>&1 & {} RANK=0 LOCAL_RANK=0 {} {} --num-tokens 4; "
      "code=$?; wait; exit $code",
      env, MOEBENCH_BINARY, rank, dir.file("rank1"), env, MOEBENCH_BINARY, rank);
  const int status = std::system(("(" + script + ") > '" + dir.file("rank0") + "' 2>&1").c_str());
  const std::string rank0 = slurp(dir.file("rank0")), rank1 = slurp(dir.file("rank1"));
  EXPECT_EQ(WEXITSTATUS(status), 2) << rank0;
  EXPECT_NE((rank0 + rank1).find("rank 1 runs a different configuration: num_tokens[0] 8 vs 4"), std::string::npos)
      << rank0 << rank1;
  EXPECT_FALSE(std::filesystem::exists(db));
}

TEST(ParallelLayerJob, BadInputExitsBeforeAnyRankStarts) {
  ScratchDir dir("parallel-bad");
  const std::string db = dir.file("r.db");
  const std::string base = kSmall + " --results-db '" + db + "'";
  expect_bad_input(base + " --tp-size 3 --ep-size 3", "num_experts (8) must be divisible by ep_size (3)");
  expect_bad_input(base + " --tp-size 4 --ep-size 8", "must be a multiple of --ep-size (8)");
  expect_bad_input(base + " --tp-size 2 --impl reference", "--impl reference runs a layer on one device");
  expect_bad_input(base + " --tp-size 2 --nnodes 2 --node-rank 0", "--nnodes 2 needs --dist-init-addr");
  expect_bad_input("layer --backend cuda " + kShape + " --tp-size 2 --results-db '" + db + "'", "--backend cuda");
  EXPECT_FALSE(std::filesystem::exists(db));
}
