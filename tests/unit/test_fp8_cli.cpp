// --dtype fp8 through the real binary: `layer` on the CPU runs, verifies and prints the error
// against bf16; `sweep` takes fp8 in layer blocks and runs them; bad input (an unknown
// --fp8-scaling, --fp8-scaling without fp8, fp8 in a `model` block) exits 2 with one line.
#include <gtest/gtest.h>

#include <fstream>

#include "results/results_store.hpp"
#include "unit/cli_runner.hpp"

using namespace moebench;
using moebench::testing::CliResult;
using moebench::testing::expect_bad_input;
using moebench::testing::fresh_temp_dir;
using moebench::testing::run_moebench;

namespace {

const char* kTinyLayer =
    "layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 160 --intermediate-size 96 "
    "--num-tokens 16 --scenarios random --impl reference --benchmark-iters 2 --no-record";

TEST(Fp8Cli, LayerRunsFp8OnTheCpuAndPrintsTheErrorAgainstBf16) {
  CliResult r = run_moebench(std::string(kTinyLayer) + " --dtype fp8 --fp8-scaling channel --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(vs bf16 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ok"), std::string::npos) << r.out;
}

TEST(Fp8Cli, BadInputExitsTwoWithOneLine) {
  expect_bad_input(std::string(kTinyLayer) + " --dtype fp8 --fp8-scaling row", "--fp8-scaling 'row'");
  expect_bad_input(std::string(kTinyLayer) + " --dtype fp16 --fp8-scaling block",
                   "--fp8-scaling block: applies to --dtype fp8 only (got --dtype fp16)");
  expect_bad_input(std::string(kTinyLayer) + " --dtype fp8 --tp-size 2", "--dtype fp8 --tp-size 2");
  expect_bad_input("model --backend cpu --model tiny --dtype fp8 --no-record", "--dtype fp8");
}

TEST(Fp8Cli, SweepRunsFp8LayerBlocksAndRefusesFp8ModelBlocks) {
  const auto dir = fresh_temp_dir("sweep-fp8");
  const std::string db = (dir / "results.db").string();
  const std::string matrix = (dir / "fp8.yaml").string();
  std::ofstream(matrix) << "runs:\n  - manual: {num_experts: 4, num_experts_per_tok: 2, hidden_size: 64, "
                           "intermediate_size: 64}\n    num_tokens: 16\n    dtype: [bf16, fp8]\n"
                           "    warmup_iters: 0\n    benchmark_iters: 2\n";
  CliResult r = run_moebench("sweep --backend cpu --matrix " + matrix + " --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ResultsStore store(db, ResultsStore::OpenMode::must_exist);
  int fp8 = 0;
  for (const RunRecord& rec : store.list()) {
    if (rec.kind != "layer" || rec.params.value("dtype", "") != "fp8") continue;
    ++fp8;
    EXPECT_EQ(rec.config, "TP1_EP1_reference_random_T16_fp8");
    EXPECT_EQ(rec.error_type, "");
    EXPECT_TRUE(rec.metrics.contains("fp8_vs_bf16_rel_error"));
  }
  EXPECT_EQ(fp8, 1);
  const std::string bad = (dir / "bad.yaml").string();
  std::ofstream(bad) << "runs:\n  - command: model\n    models: [tiny]\n    dtype: fp8\n";
  expect_bad_input("sweep --backend cpu --matrix " + bad + " --results-db " + (dir / "bad.db").string(),
                   "runs[0].dtype: fp8: `model` runs bf16 or fp16");
}

}  // namespace
