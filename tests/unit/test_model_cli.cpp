// `moebench model` end to end on the CPU backend: the default run and its report, the JSON of
// a truncated run parsed back, and every bad input as one line with exit code 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"

using moebench::testing::CliResult;
using moebench::testing::expect_bad_input;
using moebench::testing::fresh_temp_dir;
using moebench::testing::run_moebench;
using moebench::testing::slurp;

namespace {

const std::string kTinyModel = "model --backend cpu --quiet --no-record --model tiny --warmup-runs 0";
const std::string kTiny = kTinyModel + " --input-len 8 --output-len 4";

TEST(ModelCli, DefaultRunsOnTheCpuWithEverySection) {
  const auto dir = fresh_temp_dir("model-default");  // it records into ./moebench_results.db
  CliResult r = run_moebench("model --backend cpu", dir.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "moebench_results.db"));
  std::filesystem::remove_all(dir);
  for (const char* s : {"# moebench model: tiny", "| Layers | 4 of 4 |", "| **TTFT (Prefill)** |", "| **TPOT (Decode)** |",
                        "| TPOT floor |", "| **E2E Throughput** |",
                        "| Batch Size | Input Len | Latency (s) | Input Throughput (tok/s) | Output Throughput (tok/s) | ITL (ms)",
                        "## Batch Size 1 Results", "## Batch Size 2 Results", "Run 1: TTFT = ",
                        "Run 3: Decode=", "TPOT=", "Tokens=7", "Run 3/3: Total=", "Output tokens=8",
                        "| Weight init (synthetic, on the device) |", "| KV cache allocation, batch 2 |",
                        "### Memory Layout", "| weights |", "| KV cache |", "measured vs predicted"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  EXPECT_NE(r.err.find("moebench model: batch 2: run 3/3"), std::string::npos) << r.err;
}

TEST(ModelCli, TruncatedRunAsJson) {
  auto dir = fresh_temp_dir("model-json");
  const std::string base = (dir / "tiny").string();
  CliResult r = run_moebench(kTiny + " --num-layers 2 --batch-size 1,3 --benchmark-runs 2 --output-format json "
                             "--output-file " + base);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("stack: truncated to the first 2 of 4 layers (1 dense, 1 MoE)"), std::string::npos) << r.out;
  // The records' schema: one run per batch size, the run's details and the batch size's.
  nlohmann::json doc = nlohmann::json::parse(slurp(base + ".json"));
  ASSERT_EQ(doc["runs"].size(), 2u);
  EXPECT_EQ(doc["runs"][1]["details"]["layers"], 2);
  EXPECT_EQ(doc["runs"][1]["details"]["full_layers"], 4);
  EXPECT_EQ(doc["runs"][1]["params"]["num_layers"], 2);
  const nlohmann::json& b3 = doc["runs"][1]["details"]["batch"];
  EXPECT_EQ(b3["batch_size"], 3);
  EXPECT_EQ(b3["status"], "ok");
  ASSERT_EQ(b3["runs"].size(), 2u);
  EXPECT_EQ(b3["runs"][0]["step_ms"].size(), 3u);
  EXPECT_EQ(b3["itl_ms"]["count"], 6);
  EXPECT_EQ(b3["active_experts"].size(), 1u);  // one MoE layer of the two
  EXPECT_GT(b3["tpot_floor_ms"].get<double>(), 0);
  // KV cache: 2 layers x K and V x 3 sequences x 12 positions x 2 heads x 64 x 2 bytes.
  EXPECT_EQ(b3["memory"]["kv_cache"], 2 * 2 * 3 * 12 * 2 * 64 * 2);
  std::filesystem::remove_all(dir);
}

TEST(ModelCli, BadInputs) {
  expect_bad_input(kTiny + " --batch-size 0", "--batch-size: batch sizes must be positive (got 0)");
  expect_bad_input(kTinyModel + " --input-len 1020 --output-len 8",
                   "--input-len + --output-len (1020 + 8 = 1028) exceeds max_position_embeddings (1024) of tiny");
  expect_bad_input(kTinyModel + " --output-len 0", "--output-len must be positive");
  expect_bad_input(kTiny + " --benchmark-runs 0", "--benchmark-runs must be positive");
  expect_bad_input(kTiny + " --num-layers 5", "--num-layers must be within 1..4");
  expect_bad_input(kTiny + " --dtype fp8", "--dtype fp8: `model` runs bf16 or fp16");
  expect_bad_input(kTiny + " --moe-impl grouped", "--moe-impl: unknown implementation 'grouped' for the cpu backend");
  expect_bad_input(kTiny + " --tp-size 8", "num_attention_heads (4) must be divisible by tp_size (8)");
  expect_bad_input(kTiny + " --tp-size 2 --ep-size 4", "--tp-size (2) must be a multiple of --ep-size (4)");
  expect_bad_input(kTiny + " --chunked-prefill-size 0", "--chunked-prefill-size must be positive");
  expect_bad_input("model --backend cpu --manual-config --num-experts 4 --num-experts-per-tok 2 --hidden-size 64 "
                   "--intermediate-size 32 --num-hidden-layers 2 --num-attention-heads 12 --num-key-value-heads 6 "
                   "--head-dim 16 --vocab-size 64 --tp-size 4",
                   "num_key_value_heads (6) must be divisible by tp_size (4)");
  // DeepSeek-V3 in bf16 holds about 1.3 TB of weights: refused before anything is allocated.
  expect_bad_input("model --backend cpu --model deepseek-v3 --batch-size 1",
                   "deepseek-v3 at batch 1, input 32, output 8 does not fit: needed");
  expect_bad_input(kTiny + " --output-format xml", "--output-format");
}

}  // namespace
