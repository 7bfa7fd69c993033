// The command line end to end: bad input gets one line and exit code 2 with nothing written;
// good input runs and writes what it says.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "backend/backend.hpp"
#include "cli_runner.hpp"

namespace fs = std::filesystem;
using moebench::testing::CliResult;
using moebench::testing::fresh_temp_dir;
using moebench::testing::expect_bad_input;
using moebench::testing::run_moebench;
using moebench::testing::slurp;

namespace {

// A small CPU layer run that finishes in well under a second.
const std::string kTinyManual =
    "layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 256 "
    "--intermediate-size 512 --benchmark-iters 2 --quiet";


}  // namespace

TEST(Cli, UnknownPreset) { expect_bad_input("layer --model no-such-model", "unknown preset 'no-such-model'"); }

TEST(Cli, MissingConfigJson) {
  auto dir = fresh_temp_dir("missing");
  expect_bad_input("layer --model-path '" + dir.string() + "'", "config.json");
  expect_bad_input("layer --model-path '" + (dir / "nope.json").string() + "'", "nope.json");
  fs::remove_all(dir);
}

TEST(Cli, MalformedConfigJson) {
  auto dir = fresh_temp_dir("malformed");
  std::ofstream(dir / "config.json") << "{\"model_type\": \"mixtral\", \"hidden_size\": 4096,,}";
  expect_bad_input("layer --model-path '" + dir.string() + "'", "config.json");
  fs::remove_all(dir);
}

TEST(Cli, MissingRequiredField) {
  auto dir = fresh_temp_dir("field");
  std::ofstream(dir / "config.json") << R"({"model_type": "qwen3_moe", "hidden_size": 2048,
    "moe_intermediate_size": 768, "num_experts_per_tok": 8, "num_hidden_layers": 48,
    "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 151936,
    "max_position_embeddings": 40960})";
  expect_bad_input("layer --model-path '" + dir.string() + "'", "\"num_experts\"");
  fs::remove_all(dir);
}

TEST(Cli, TopKExceedsExperts) {
  expect_bad_input("layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 9 --hidden-size 64 "
                   "--intermediate-size 64",
                   "top_k (9) exceeds num_experts (8)");
}

TEST(Cli, ExpertsNotDivisibleByEpSize) {
  expect_bad_input("layer --backend cpu --manual-config --num-experts 60 --num-experts-per-tok 4 --hidden-size 64 "
                   "--intermediate-size 64 --ep-size 8",
                   "num_experts (60) must be divisible by ep_size (8)");
}

TEST(Cli, NonPositiveSizes) {
  expect_bad_input(kTinyManual + " --num-tokens 0", "--num-tokens");
  expect_bad_input(kTinyManual + " --num-tokens 16,-4", "--num-tokens");
  expect_bad_input("layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 0 "
                   "--intermediate-size 64",
                   "hidden_size");
  expect_bad_input("layer --backend cpu --manual-config --num-experts 0 --num-experts-per-tok 2 --hidden-size 64 "
                   "--intermediate-size 64",
                   "num_experts");
  expect_bad_input(kTinyManual + " --benchmark-iters 0", "--benchmark-iters");
}

TEST(Cli, ManualConfigNeedsAllShapeFlags) {
  expect_bad_input("layer --backend cpu --manual-config --num-experts 8 --hidden-size 64 --intermediate-size 64",
                   "--num-experts-per-tok");
  expect_bad_input("layer --backend cpu --num-experts 8", "--manual-config");
  expect_bad_input("layer --backend cpu --model small --model-path x", "choose one of");
}

TEST(Cli, ImbalanceFactorOutOfRange) {
  expect_bad_input(kTinyManual + " --scenarios imbalanced --imbalance-factor 0.5", "--imbalance-factor");
  expect_bad_input(kTinyManual + " --scenarios imbalanced --imbalance-factor 5", "--imbalance-factor");  // E/k = 4
}

TEST(Cli, UnknownNames) {
  expect_bad_input(kTinyManual + " --scenarios sideways", "sideways");
  expect_bad_input(kTinyManual + " --impl nonesuch", "nonesuch");
  expect_bad_input(kTinyManual + " --dtype int3", "int3");
  expect_bad_input("layer --backend tpu", "tpu");
  expect_bad_input(kTinyManual + " --output-format xml", "xml");
  expect_bad_input("layer --no-such-flag", "--no-such-flag");
  expect_bad_input("layer --num-tokens abc", "abc");
  expect_bad_input(kTinyManual + " --manual-config --activation relu", "relu");
}

TEST(Cli, CudaBackendWithoutGpu) {
  if (moebench::cuda_available()) GTEST_SKIP() << "a GPU is visible";
  expect_bad_input("layer --backend cuda", "--backend cuda");
}

TEST(Cli, UnwritableOutputLeavesNothing) {
  auto dir = fresh_temp_dir("nowrite");
  expect_bad_input(kTinyManual + " --output-file '" + (dir / "missing" / "res").string() + "'", "does not exist");
  // A bad flag after a valid output path: nothing may be written either.
  expect_bad_input(kTinyManual + " --num-tokens 0 --output-file '" + (dir / "res").string() + "'", "--num-tokens");
  EXPECT_TRUE(fs::is_empty(dir));
  fs::remove_all(dir);
}

TEST(Cli, TinyRunWritesAllFormats) {
  auto dir = fresh_temp_dir("formats");
  CliResult r = run_moebench(kTinyManual + " --num-tokens 16,33 --scenarios random,imbalanced --imbalance-factor 2 "
                             "--output-format all --output-file '" + (dir / "res").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* ext : {".csv", ".md", ".json"}) EXPECT_TRUE(fs::exists(dir / (std::string("res") + ext))) << ext;
  std::string csv = slurp(dir / "res.csv");
  EXPECT_EQ(csv.rfind("implementation,scenario,num_tokens,ep_size,tp_size,num_experts,num_experts_per_tok,", 0), 0u);
  // Header plus 2 scenarios x 2 token counts x 1 implementation.
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  EXPECT_NE(slurp(dir / "res.md").find("## Scenario: imbalanced, Tokens: 33"), std::string::npos);
  EXPECT_NE(r.out.find("reference"), std::string::npos);
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

TEST(Cli, DefaultRunPrintsTable) {
  if (moebench::cuda_available()) GTEST_SKIP() << "the GPU default is exercised by scripts/gpu-check";
  CliResult r = run_moebench("layer --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"random", "balanced", "imbalanced", "reference"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
}

TEST(Cli, HelpAndInfo) {
  CliResult help = run_moebench("layer --help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--num-tokens", "--scenarios", "--imbalance-factor", "--ep-size", "--tp-size",
                           "--warmup-iters", "--benchmark-iters", "--output-format", "--output-file", "--impl",
                           "--dtype", "--backend", "--seed", "--model-path", "--manual-config"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
  CliResult info = run_moebench("info --skip-ceilings --backend cpu");
  EXPECT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("moebench "), std::string::npos);
  EXPECT_NE(info.out.find("cpu"), std::string::npos);
}

// --results-db is one option everywhere: the same help line in every command that names a store.
TEST(Cli, ResultsDbHasOneHelpText) {
  const std::string help_line = "SQLite results store: layer, model and sweep record into it, results and report read it";
  for (const char* command : {"layer", "model", "sweep", "results", "results list", "results show", "results export",
                              "results compare", "results delete", "report"}) {
    CliResult help = run_moebench(std::string(command) + " --help");
    EXPECT_EQ(help.exit_code, 0) << command;
    const size_t flag = help.out.find("--results-db");
    ASSERT_NE(flag, std::string::npos) << command << "\n" << help.out;
    EXPECT_NE(help.out.find(help_line, flag), std::string::npos) << command << "\n" << help.out;
  }
}

TEST(Cli, SkewScenarioKnobsOutOfRange) {
  expect_bad_input(kTinyManual + " --scenarios zipf --zipf-exponent 0", "--zipf-exponent (0) must be positive");
  expect_bad_input(kTinyManual + " --scenarios random --zipf-exponent -1", "--zipf-exponent (-1)");
  expect_bad_input(kTinyManual + " --scenarios hot-experts --hot-share 0", "--hot-share (0) must be in (0, 1]");
  expect_bad_input(kTinyManual + " --scenarios hot-experts --hot-share 1.5", "--hot-share (1.5)");
  expect_bad_input(kTinyManual + " --scenarios hot-experts --hot-experts 8", "--hot-experts (8) must be between 1 and 7");
  expect_bad_input(kTinyManual + " --scenarios hot-experts --hot-experts 1 --hot-share 0.9", "--hot-share (0.9)");
}

TEST(Cli, SkewScenariosRunVerifiedWithTheirLoads) {
  auto dir = fresh_temp_dir("skew");
  CliResult r = run_moebench(kTinyManual + " --num-tokens 64 --scenarios zipf,hot-experts --zipf-exponent 1.2 "
                             "--hot-experts 2 --hot-share 0.75 --output-format csv --output-file '" +
                             (dir / "res").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  const std::string csv = slurp(dir / "res.csv");
  EXPECT_NE(csv.find("\nreference,zipf,64,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nreference,hot-experts,64,"), std::string::npos) << csv;
  // Two hot experts of 8 take 3/4 of 128 assignments: 48 each against an average of 16.
  EXPECT_NE(csv.find(",48,"), std::string::npos) << csv;
  fs::remove_all(dir);
}
