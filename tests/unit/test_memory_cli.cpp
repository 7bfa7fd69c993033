// `moebench memory` end to end: the table, the JSON parsed back against hand-computed bytes,
// the verdict's exit codes, and every bad input as one line with exit code 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"

using moebench::testing::CliResult;
using moebench::testing::expect_bad_input;
using moebench::testing::run_moebench;

namespace {

// The tiny config of test_memory_model.cpp, through the command line.
const std::string kTinyModel =
    "memory --manual-config --num-experts 4 --num-experts-per-tok 2 --hidden-size 256 --intermediate-size 128 "
    "--num-hidden-layers 2 --num-attention-heads 4 --num-key-value-heads 2 --vocab-size 1000 "
    "--max-position-embeddings 64";
const std::string kTiny = kTinyModel + " --batch-size 2 --input-len 8 --output-len 8";


nlohmann::json component(const nlohmann::json& doc, const std::string& key) {
  for (const auto& c : doc["components"])
    if (c["key"] == key) return c;
  return nullptr;
}

}  // namespace

TEST(MemoryCli, TinyJsonHasHandComputedBytes) {
  CliResult r = run_moebench(kTiny + " --gpu-memory-gib 1 --output-format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["weight_bytes"], 3389952);
  EXPECT_EQ(doc["kv_cache_bytes_per_token"], 1024);
  EXPECT_EQ(component(doc, "kv_cache")["bytes"], 32768);
  EXPECT_EQ(component(doc, "activations.moe")["bytes"], 33280);
  EXPECT_EQ(component(doc, "cuda_graphs")["estimate"], true);
  EXPECT_EQ(doc["available_bytes"], int64_t(1) << 30);
  EXPECT_EQ(doc["fits"], true);
  EXPECT_GT(doc["largest_batch"].get<int64_t>(), 2);
  EXPECT_EQ(doc["smallest_layout"]["tp_size"], 1);
  int64_t sum = 0;
  for (const auto& c : doc["components"]) sum += c["bytes"].get<int64_t>();
  EXPECT_EQ(doc["total_bytes"], sum);
}

TEST(MemoryCli, SeedQwen3TableAndVerdict) {
  CliResult r = run_moebench(
      "memory --model qwen3-235b-a22b --dtype fp8 --tp-size 8 --ep-size 2 --gpu-memory-gib 80 --input-len 4096 "
      "--output-len 256");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"weights: routed experts", "KV cache 47.0 KiB per token per GPU", "weights together: 27.65",
                        "verdict: fits: needed", "vs available 80.0 GiB", "largest batch that fits at context 4352:",
                        "smallest layout that fits batch 1: tp 4, ep 2"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
}

TEST(MemoryCli, DoesNotFitExitsOneWithNumbers) {
  // DeepSeek-V3 in bf16 on one 80 GiB GPU: about 1.2 TiB of weights.
  CliResult r = run_moebench("memory --model deepseek-v3 --dtype bf16 --gpu-memory-gib 80 --input-len 4096 --output-len 256");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("verdict: does not fit: needed "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("largest batch that fits at context 4352: none, not even 1"), std::string::npos) << r.out;
  EXPECT_EQ(r.stderr_lines(), 1) << r.err;
  EXPECT_NE(r.err.find("does not fit: needed "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vs available 80.0 GiB"), std::string::npos) << r.err;
}

TEST(MemoryCli, DefaultRunAndTraining) {
  CliResult r = run_moebench("memory --gpu-memory-gib 80");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("qwen3-30b-a3b"), std::string::npos) << r.out;
  CliResult t = run_moebench(kTiny + " --mode train --output-format json");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  nlohmann::json doc = nlohmann::json::parse(t.out);
  EXPECT_EQ(component(doc, "optimizer")["bytes"], 12 * 3389952 / 2);
  EXPECT_TRUE(component(doc, "kv_cache").is_null());
  EXPECT_NE(doc["available_source"].get<std::string>().find("H100"), std::string::npos);
}

TEST(MemoryCli, BadInputs) {
  expect_bad_input("memory --model qwen3-235b-a22b --input-len 40960 --output-len 1",
                   "exceeds max_position_embeddings (40960)");
  expect_bad_input(kTinyModel + " --batch-size 0", "--batch-size must be positive (got 0)");
  expect_bad_input(kTinyModel + " --input-len 0", "--input-len must be positive");
  expect_bad_input(kTinyModel + " --output-len -1", "--output-len must be >= 0");
  expect_bad_input(kTinyModel + " --input-len 60 --output-len 8", "exceeds max_position_embeddings (64)");
  // KV heads: 6 over 4 GPUs, and 8 GPUs over 3 KV heads.
  expect_bad_input("memory --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 768 "
                   "--intermediate-size 384 --num-hidden-layers 2 --num-attention-heads 12 --num-key-value-heads 6 "
                   "--vocab-size 1000 --tp-size 4",
                   "num_key_value_heads (6) must be divisible by tp_size (4)");
  expect_bad_input("memory --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 768 "
                   "--intermediate-size 384 --num-hidden-layers 2 --num-attention-heads 24 --num-key-value-heads 3 "
                   "--vocab-size 1000 --tp-size 8",
                   "tp_size (8) must be a multiple of num_key_value_heads (3)");
  expect_bad_input("memory --manual-config --num-experts 60 --num-experts-per-tok 4 --hidden-size 256 "
                   "--intermediate-size 256 --num-hidden-layers 2 --num-attention-heads 8 --vocab-size 1000 "
                   "--tp-size 8 --ep-size 8",
                   "num_experts (60) must be divisible by ep_size (8)");
  expect_bad_input(kTiny + " --tp-size 2 --ep-size 4", "--tp-size (2) must be a multiple of --ep-size (4)");
  expect_bad_input("memory --model qwen3-30b-a3b --dtype fp8 --tp-size 8", "fp8 scale block");
  expect_bad_input(kTiny + " --mode train --dtype fp8", "--mode train --dtype fp8");
  expect_bad_input(kTiny + " --mode serve", "--mode");
  expect_bad_input(kTiny + " --dtype int3", "int3");
  expect_bad_input(kTiny + " --gpu-memory-gib 0", "--gpu-memory-gib");
  expect_bad_input(kTiny + " --gpu-memory-gib -4", "--gpu-memory-gib");
  expect_bad_input(kTiny + " --output-format xml", "xml");
  expect_bad_input(kTiny + " --chunked-prefill-size -1", "--chunked-prefill-size");
  expect_bad_input("memory --manual-config --num-experts 4 --num-experts-per-tok 2 --hidden-size 256 "
                   "--intermediate-size 128",
                   "--num-hidden-layers");
  expect_bad_input("memory --model small --num-hidden-layers 4", "need --manual-config");
  expect_bad_input("memory --model no-such-model", "unknown preset");
}

TEST(MemoryCli, HelpListsFlags) {
  CliResult help = run_moebench("memory --help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--model", "--model-path", "--manual-config", "--batch-size", "--input-len", "--output-len",
                           "--tp-size", "--ep-size", "--dtype", "--mode", "--gpu-memory-gib", "--output-format"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
}
