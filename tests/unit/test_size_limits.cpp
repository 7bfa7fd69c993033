// Sizes that would overflow int64 (bytes, parameters, token counts) never wrap into a small or
// negative figure: they saturate, and anything beyond any machine is refused up front as bad
// input naming the flag or config field, in every command that multiplies shapes out.
#include <gtest/gtest.h>

#include <limits>

#include "analysis/memory_model.hpp"
#include "cli_runner.hpp"
#include "core/errors.hpp"
#include "core/size_math.hpp"

using moebench::testing::expect_bad_input;

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// A huge manual model: 1e6 experts of 1e9 x 1e9. Its bytes wrap int64 several times over.
const std::string kHugeManual =
    "--manual-config --num-experts 1000000 --num-experts-per-tok 1 --hidden-size 1000000000 "
    "--intermediate-size 1000000000";
const std::string kSmallMemory =
    "memory --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 256 --intermediate-size 128 "
    "--num-hidden-layers 2 --num-attention-heads 4 --vocab-size 1000";
const std::string kSmallLayer =
    "layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 256 "
    "--intermediate-size 512 --benchmark-iters 2 --quiet";

}  // namespace

TEST(SizeMath, SaturatesInsteadOfWrapping) {
  using moebench::size_add;
  using moebench::size_mul;
  EXPECT_EQ(size_mul(3, 4, 5), 60);
  EXPECT_EQ(size_add(1, 2, 3), 6);
  EXPECT_EQ(size_mul(int64_t(1) << 40, int64_t(1) << 40), moebench::kSizeSaturated);
  EXPECT_EQ(size_mul(kMax, 2, 0), 0);  // a zero still zeroes it
  EXPECT_EQ(size_add(kMax, 1), moebench::kSizeSaturated);
  EXPECT_EQ(size_mul(1000000, 3, 1000000000, 1000000000), moebench::kSizeSaturated);
  EXPECT_TRUE(moebench::beyond_any_machine(moebench::kSizeSaturated));
  EXPECT_FALSE(moebench::beyond_any_machine(int64_t(80) << 30));
}

TEST(SizeLimits, HugeModelIsRefusedNamingItsFlags) {
  expect_bad_input("memory " + kHugeManual +
                       " --num-hidden-layers 100 --num-attention-heads 1 --vocab-size 1000 --batch-size 1 "
                       "--input-len 1 --output-len 0",
                   "beyond any machine");
  expect_bad_input("memory " + kHugeManual +
                       " --num-hidden-layers 100 --num-attention-heads 1 --vocab-size 1000 --batch-size 1 "
                       "--input-len 1 --output-len 0",
                   "--num-experts, --hidden-size and --intermediate-size");
  expect_bad_input("layer --backend cpu " + kHugeManual + " --num-tokens 1", "one MoE layer is beyond any machine");
  // Each part fits int64 on its own; the whole model does not fit any machine.
  expect_bad_input("memory --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 65536 "
                   "--intermediate-size 65536 --num-hidden-layers 2000000 --num-attention-heads 1 --vocab-size 1000",
                   "the whole model is beyond any machine");
}

TEST(SizeLimits, HugeConfigJsonIsRefusedNamingItsFields) {
  moebench::ModelConfig c;
  c.name = "config.json";
  c.family = "mixtral";
  c.hidden_size = int64_t(1) << 31;
  c.moe_intermediate_size = int64_t(1) << 31;
  c.num_experts = 1 << 20;
  c.top_k = 2;
  try {
    c.validate(/*layer_only=*/true);
    FAIL() << "accepted";
  } catch (const moebench::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("check num_experts, hidden_size and moe_intermediate_size"),
              std::string::npos)
        << e.what();
  }
}

TEST(SizeLimits, ContextLengthsNameTheirFlag) {
  const std::string max = std::to_string(kMax);
  expect_bad_input(kSmallMemory + " --input-len " + max, "--input-len " + max + " is beyond any GPU");
  expect_bad_input(kSmallMemory + " --input-len 1 --output-len " + max, "--output-len " + max);
  // batch x context past any machine names the batch, and no line is ever negative.
  expect_bad_input(kSmallMemory + " --batch-size " + max + " --input-len 4096", "--batch-size");
  expect_bad_input("model --backend cpu --quiet --no-record --model tiny --warmup-runs 0 --output-len 4 --input-len " +
                       max,
                   "--input-len " + max + " exceeds max_position_embeddings");
  expect_bad_input("model --backend cpu --quiet --no-record --model tiny --warmup-runs 0 --input-len 8 --output-len " +
                       max,
                   "--output-len " + max + " exceeds max_position_embeddings");
}

TEST(SizeLimits, LayerTokenCountsBeyondAnyMachineNameNumTokens) {
  for (const char* tokens : {"4611686018427387904", "9223372036854775807", "1125899906842624"})
    expect_bad_input(kSmallLayer + " --num-tokens " + tokens, std::string("--num-tokens ") + tokens);
}

TEST(SizeLimits, MemoryCountsSaturateForTheFitSearch) {
  moebench::MemoryRequest r;
  r.model.name = "huge-context";
  r.model.family = "manual";
  r.model.hidden_size = 8192;
  r.model.moe_intermediate_size = 1024;
  r.model.num_experts = 8;
  r.model.top_k = 2;
  r.model.num_layers = 4;
  r.model.num_attention_heads = 64;
  r.model.num_kv_heads = 64;
  r.model.head_dim = 128;
  r.model.vocab_size = 1000;
  r.model.max_position_embeddings = int64_t(1) << 40;
  r.batch_size = int64_t(1) << 35;
  r.input_len = 2;
  r.output_len = 0;
  const moebench::MemoryBreakdown counted = moebench::count_memory(r);
  EXPECT_GT(counted.total_bytes(), moebench::kMaxMachineBytes);
  for (const moebench::MemoryLine& l : counted.lines) EXPECT_GE(l.bytes, 0) << l.key;
}
