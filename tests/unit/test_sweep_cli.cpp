// moebench sweep through the real binary: a matrix with a config that fails on purpose, one
// that hangs (killed by its 2 s timeout), one that crashes and one that runs out of memory
// completes with each classified and stored; a sweep killed with SIGKILL mid-run loses nothing
// already stored; bad matrices are bad input with nothing written.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include "results/results_store.hpp"
#include "unit/results_fixture.hpp"

using namespace moebench;
using moebench::testing::CliResult;
using moebench::testing::expect_bad_input;
using moebench::testing::fresh_temp_dir;
using moebench::testing::run_moebench;

namespace {

// A tiny manual layer that runs in well under a second on the CPU; `h` tells configs apart.
std::string tiny_block(int hidden, const std::string& extra) {
  return "  - manual: {num_experts: 4, num_experts_per_tok: 2, hidden_size: " + std::to_string(hidden) +
         ", intermediate_size: 64}\n    num_tokens: 16\n    warmup_iters: 0\n    benchmark_iters: 2\n" + extra;
}

std::string write_file(const std::filesystem::path& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir / name) << text;
  return (dir / name).string();
}

}  // namespace

TEST(SweepCli, FailingHangingCrashingConfigsAreClassifiedAndTheSweepGoesOn) {
  const auto dir = fresh_temp_dir("sweep-faults");
  const std::string matrix = write_file(dir, "faults.yaml",
                                        "timeout_s: 60\nruns:\n" + tiny_block(64, "    ep_size: [1, 3]\n") +
                                            tiny_block(96, "    timeout_s: 2\n    env: {MOEBENCH_TEST_FAULT: hang}\n") +
                                            tiny_block(128, "    env: {MOEBENCH_TEST_FAULT: crash}\n") +
                                            tiny_block(160, "    env: {MOEBENCH_TEST_FAULT: oom}\n") +
                                            tiny_block(192, ""));
  const std::string db = (dir / "results.db").string();
  const auto start = std::chrono::steady_clock::now();
  CliResult r = run_moebench("sweep --matrix " + matrix + " --results-db " + db);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 1) << r.err;  // some configs failed
  EXPECT_LT(took, 50) << "the hanging config was not cut at its 2 s timeout";

  ResultsStore store(db, ResultsStore::OpenMode::must_exist);
  std::map<std::string, std::string> type_of;  // model::config -> error type ("" on success)
  for (const RunRecord& rec : store.list())
    if (rec.kind != "sweep") type_of[rec.key()] = rec.error_type;
  EXPECT_EQ(type_of.size(), 6u);
  EXPECT_EQ(type_of["manual-e4-k2-h64-i64::TP1_EP1_reference_random_T16_bf16"], "");
  EXPECT_EQ(type_of["manual-e4-k2-h64-i64::TP1_EP3_reference_random_T16_bf16"], "InvalidConfig");
  EXPECT_EQ(type_of["manual-e4-k2-h96-i64::TP1_EP1_reference_random_T16_bf16"], "Timeout");
  EXPECT_EQ(type_of["manual-e4-k2-h128-i64::TP1_EP1_reference_random_T16_bf16"], "Crash");
  EXPECT_EQ(type_of["manual-e4-k2-h160-i64::TP1_EP1_reference_random_T16_bf16"], "OOM");
  EXPECT_EQ(type_of["manual-e4-k2-h192-i64::TP1_EP1_reference_random_T16_bf16"], "");  // ran after the faults

  // The sweep's own summary, and the Markdown table grouped by model on stdout.
  std::vector<RunRecord> summaries = store.list({.kind = "sweep"});
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].params["configs"], 6);
  EXPECT_EQ(summaries[0].params["failed"], 4);
  EXPECT_EQ(store.count({.group_id = summaries[0].group_id}), 7);
  EXPECT_NE(r.out.find("## manual-e4-k2-h96-i64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Timeout: no result after 2 s"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("[6/6]"), std::string::npos) << r.err;  // plain progress lines off a terminal
  EXPECT_NE(r.err.find("ETA"), std::string::npos) << r.err;
  EXPECT_EQ(store.integrity_check(), "ok");

  // Seed 002 across runs: the same matrix without the faults turns those keys into successes.
  const std::string fixed = write_file(dir, "fixed.yaml", "runs:\n" + tiny_block(96, "") + tiny_block(128, ""));
  r = run_moebench("sweep --matrix " + fixed + " --results-db " + db);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> failing;
  for (const RunRecord& f : store.latest_failures()) failing.push_back(f.key());
  EXPECT_EQ(failing, (std::vector<std::string>{"manual-e4-k2-h160-i64::TP1_EP1_reference_random_T16_bf16",
                                               "manual-e4-k2-h64-i64::TP1_EP3_reference_random_T16_bf16"}));
}

TEST(SweepCli, ModelConfigsRunRecordAndFailClassified) {
  const auto dir = fresh_temp_dir("sweep-model");
  auto tiny_model = [](const std::string& batch, const std::string& extra) {
    return "  - command: model\n    models: [tiny]\n    batch_size: " + batch +
           "\n    input_len: 8\n    output_len: 4\n    warmup_runs: 0\n    benchmark_runs: 1\n" + extra;
  };
  // A success (two layers of the stack), an OOM the child records itself, and a crash the
  // sweep records for it under the key the child would have used.
  const std::string matrix = write_file(dir, "model.yaml",
                                        "runs:\n" + tiny_model("1", "    num_layers: 2\n") +
                                            tiny_model("2", "    env: {MOEBENCH_TEST_FAULT: oom}\n") +
                                            tiny_model("3", "    env: {MOEBENCH_TEST_FAULT: crash}\n"));
  const std::string db = (dir / "results.db").string();
  CliResult r = run_moebench("sweep --backend cpu --matrix " + matrix + " --results-db " + db);
  EXPECT_EQ(r.exit_code, 1) << r.err;

  ResultsStore store(db, ResultsStore::OpenMode::must_exist);
  std::map<std::string, RunRecord> by_key;
  for (const RunRecord& rec : store.list({.kind = "model"})) by_key[rec.key()] = rec;
  ASSERT_EQ(by_key.size(), 3u) << r.out;
  const RunRecord& ok = by_key["tiny::TP1_EP1_reference_bs1_in8_out4_bf16_L2"];
  EXPECT_EQ(ok.status, RunStatus::success) << ok.error_message;
  EXPECT_GT(ok.metrics.value("output_throughput_tok_per_s", 0.0), 0);
  const RunRecord& oom = by_key["tiny::TP1_EP1_reference_bs2_in8_out4_bf16"];
  EXPECT_EQ(oom.error_type, "OOM");
  EXPECT_EQ(oom.command_line.find("moebench model --model tiny"), 0u) << oom.command_line;  // the child's own
  const RunRecord& crash = by_key["tiny::TP1_EP1_reference_bs3_in8_out4_bf16"];
  EXPECT_EQ(crash.error_type, "Crash");
  // The sweep's params for it are those the child records itself.
  nlohmann::ordered_json as_the_child_would = oom.params;
  as_the_child_would["batch_size"] = 3;
  EXPECT_EQ(crash.params, as_the_child_would);
  std::vector<RunRecord> summaries = store.list({.kind = "sweep"});
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].params["failed"], 2);
  EXPECT_EQ(ok.group_id, summaries[0].group_id);
  EXPECT_NE(r.out.find("## tiny"), std::string::npos) << r.out;

  r = run_moebench("sweep --command model --model tiny --batch-size 1,4 --num-layers 2 --backend cpu --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tiny::TP1_EP1_reference_bs4_in1024_out64_bf16_L2  moebench model --model tiny --tp-size 1 "
                       "--ep-size 1 --impl reference --dtype bf16 --backend cpu --batch-size 4"),
            std::string::npos)
      << r.out;
}

TEST(SweepCli, KilledMidSweepLosesNothingStored) {
  const auto dir = fresh_temp_dir("sweep-killed");
  // Two quick configs, then one that hangs for a minute: the kill lands while it runs.
  const std::string matrix = write_file(dir, "m.yaml", "runs:\n" + tiny_block(64, "") + tiny_block(96, "") +
                                                           tiny_block(128, "    env: {MOEBENCH_TEST_FAULT: hang}\n"));
  const std::string db = (dir / "results.db").string();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execl(MOEBENCH_BINARY, MOEBENCH_BINARY, "sweep", "--matrix", matrix.c_str(), "--results-db", db.c_str(),
          "--timeout", "60", static_cast<char*>(nullptr));
    _exit(127);
  }
  std::vector<RunRecord> before;
  for (int i = 0; i < 600 && before.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (std::filesystem::exists(db)) before = ResultsStore(db).list({.kind = "layer"});
  }
  ASSERT_EQ(before.size(), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the hanging child has started
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));

  ResultsStore store(db);
  EXPECT_EQ(store.integrity_check(), "ok");
  for (const RunRecord& r : before) {
    std::optional<RunRecord> kept = store.find(r.id);
    ASSERT_TRUE(kept) << r.key();
    EXPECT_EQ(kept->metrics.dump(), r.metrics.dump());
  }
  EXPECT_EQ(store.count({.kind = "sweep"}), 0);  // the sweep never finished
  EXPECT_GT(store.record(moebench::testing::layer_record("after", "c", 1)), before.back().id);
}

TEST(SweepCli, FlagsMatrixAndDryRun) {
  CliResult r = run_moebench("sweep --model small --ep-size 1,2 --num-tokens 32 --scenarios random --backend cpu --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("small::TP1_EP1_reference_random_T32_bf16  moebench layer --model small --tp-size 1 --ep-size 1"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("small::TP1_EP2_reference_random_T32_bf16"), std::string::npos) << r.out;
  r = run_moebench("sweep --dry-run --backend cpu");  // the embedded default
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("small::TP1_EP1_reference_random_T32_bf16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("small::TP1_EP1_reference_random_T128_bf16"), std::string::npos) << r.out;
  r = run_moebench("sweep --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--timeout"), std::string::npos);
}

TEST(SweepCli, BadMatricesAreBadInputWithNothingWritten) {
  const auto dir = fresh_temp_dir("sweep-bad");
  const std::string db = (dir / "results.db").string();
  auto bad_file = [&](const std::string& text, const std::string& message) {
    const std::string path = write_file(dir, "bad.yaml", text);
    expect_bad_input("sweep --matrix " + path + " --results-db " + db, message);
  };
  expect_bad_input("sweep --matrix /no/such.yaml --results-db " + db, "--matrix /no/such.yaml: no such file");
  bad_file("runs: [ {", "cannot parse");
  bad_file("- 1\n- 2\n", "expected a map");
  bad_file("runs:\n  - models: [small]\n    num_tokens: 16\n    colour: red\n", "runs[0].colour: unknown key");
  bad_file("runs:\n  - models: [small]\n    num_tokens: 16\n    tp_size: [0]\n", "runs[0].tp_size: must be positive (got 0)");
  bad_file("runs:\n  - models: [small]\n    num_tokens: [16, lots]\n", "runs[0].num_tokens[1]: expected integers, got 'lots'");
  bad_file("runs:\n  - models: [no-such-model]\n    num_tokens: 16\n", "no-such-model");
  bad_file("runs:\n  - models: [small]\n    num_tokens: 16\n    impl: [warp-drive]\n", "warp-drive");
  bad_file("runs:\n  - models: [small]\n    num_tokens: 16\n    scenarios: [chaotic]\n", "runs[0].scenarios");
  bad_file("runs:\n  - models: [small]\n", "runs[0].num_tokens: missing");
  bad_file("runs:\n  - num_tokens: 16\n", "no model");
  bad_file("runs:\n  - models: [small]\n    num_tokens: 16\n    command: train\n", "unknown command 'train'");
  bad_file("runs:\n  - models: [small]\n    num_tokens: 16\n    args: [--no-record]\n", "--no-record is set by the sweep");
  bad_file("timeout_s: 0\nruns:\n  - models: [small]\n    num_tokens: 16\n", "timeout_s: must be positive");
  bad_file("runs:\n  - models: [small]\n    num_tokens: 16\n    benchmark_runs: 3\n    benchmark_iters: 3\n",
           "the same setting as benchmark_iters");
  bad_file("runs:\n  - models: [small]\n    num_tokens: 16\n    num_layers: 2\n", "not an axis of `layer`");
  bad_file("runs:\n  - command: model\n    models: [tiny]\n    num_layers: 0\n", "runs[0].num_layers: must be positive");
  const std::string ok = write_file(dir, "ok.yaml", "models: [small]\nnum_tokens: 16\n");
  expect_bad_input("sweep --matrix " + ok + " --ep-size 2 --results-db " + db, "not both");
  expect_bad_input("sweep --tp-size 0 --dry-run", "tp_size: must be positive (got 0)");
  expect_bad_input("sweep --model no-such-model --dry-run", "no-such-model");
  expect_bad_input("sweep --timeout -1 --dry-run", "timeout_s: must be positive");
  EXPECT_FALSE(std::filesystem::exists(db));
}

// Mistakes in a sweep file that a parser lets through, or reports without a place, are bad
// input naming the key, the block and the line.
TEST(SweepCli, FileMistakesAreNamedWhereTheyStand) {
  const auto dir = fresh_temp_dir("sweep-mistakes");
  const std::string db = (dir / "results.db").string();
  auto bad_file = [&](const std::string& name, const std::string& text, const std::string& message) {
    const std::string path = write_file(dir, name, text);
    expect_bad_input("sweep --matrix " + path + " --results-db " + db, message);
  };
  // Duplicate keys, in YAML and in JSON, in a block and at the top.
  bad_file("dup.yaml", "runs:\n  - models: [small]\n    num_tokens: 16\n    num_tokens: 32\n",
           "line 4: duplicate key \"num_tokens\" (first at line 3)");
  bad_file("dup.json", "{\"models\": [\"small\"],\n \"num_tokens\": [16],\n \"models\": [\"tiny\"]}",
           "line 3: duplicate key \"models\" (first at line 1)");
  bad_file("dup-env.yaml", "runs:\n  - models: [small]\n    num_tokens: 16\n    env: {A: 1, A: 2}\n",
           "duplicate key \"A\"");
  // Axes of the other command.
  bad_file("model-axes.yaml", "runs:\n  - command: model\n    models: [tiny]\n    num_tokens: 16\n",
           "runs[0].num_tokens: not an axis of a `model` block");
  bad_file("model-scen.yaml", "runs:\n  - command: model\n    models: [tiny]\n    scenarios: [random]\n",
           "runs[0].scenarios: not an axis of a `model` block");
  for (const char* axis : {"batch_size", "input_len", "output_len"})
    bad_file("layer-axes.yaml", std::string("runs:\n  - models: [small]\n    num_tokens: 16\n    ") + axis + ": 4\n",
             std::string("runs[0].") + axis + ": not an axis of a `layer` block");
  // Syntax errors say where.
  bad_file("syntax.yaml", "runs:\n  - models: [small\n    num_tokens: 16\n", "at line ");
  bad_file("syntax.json", "{\"models\": [\"small\"],\n  \"num_tokens\": [16, 32}", "line 2, column");
  EXPECT_FALSE(std::filesystem::exists(db));
}

// --dry-run prints what reproduces each config, its block's environment included.
TEST(SweepCli, DryRunCommandsCarryTheBlockEnvironment) {
  const auto dir = fresh_temp_dir("sweep-dry-env");
  const std::string matrix =
      write_file(dir, "env.yaml", "runs:\n" + tiny_block(64, "    env: {MOEBENCH_X: 1, OTHER: 'a b'}\n") +
                                      tiny_block(128, ""));
  CliResult r = run_moebench("sweep --backend cpu --dry-run --matrix " + matrix);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("  env MOEBENCH_X=1 'OTHER=a b' moebench layer --manual-config"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  moebench layer --manual-config --num-experts 4 --num-experts-per-tok 2 --hidden-size 128"),
            std::string::npos)
      << r.out;
}

// A sweep whose configs all fail is not a success, in its summary record as in its exit code.
TEST(SweepCli, SummaryOfFailedConfigsIsAFailure) {
  const auto dir = fresh_temp_dir("sweep-all-fail");
  const std::string matrix = write_file(dir, "fail.yaml",
                                        "runs:\n" + tiny_block(64, "    env: {MOEBENCH_TEST_FAULT: crash}\n") +
                                            tiny_block(128, "    env: {MOEBENCH_TEST_FAULT: crash}\n"));
  const std::string db = (dir / "results.db").string();
  CliResult r = run_moebench("sweep --backend cpu --quiet --matrix " + matrix + " --results-db " + db);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ResultsStore store(db, ResultsStore::OpenMode::must_exist);
  std::vector<RunRecord> summaries = store.list({.kind = "sweep"});
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].status, RunStatus::failure);
  EXPECT_EQ(summaries[0].error_type, "Crash");
  EXPECT_NE(summaries[0].error_message.find("2 of 2 configs failed"), std::string::npos) << summaries[0].error_message;
  for (const RunRecord& rec : store.list({.kind = "layer"}))
    EXPECT_EQ(rec.command_line.rfind("env MOEBENCH_TEST_FAULT=crash moebench layer", 0), 0u) << rec.command_line;
}
