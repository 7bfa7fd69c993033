// The memory model against hand-computed byte counts, the two seed-001 figures, and the
// searches (largest batch, smallest layout).
#include <gtest/gtest.h>

#include <cmath>

#include "analysis/memory_fit.hpp"
#include "analysis/memory_model.hpp"
#include "core/errors.hpp"
#include "core/presets.hpp"

using namespace moebench;

namespace {

constexpr double kGiB = double(int64_t(1) << 30);
constexpr int64_t kContextBytes = int64_t(512) << 20;  // the CUDA context estimate
constexpr int64_t kGraphBytesPerLayer = 512 * 1024;

// 4 experts top-2, H 256, I 128, 2 layers, 4 heads of 64 with 2 KV heads, vocab 1000.
ModelConfig tiny() {
  ModelConfig c;
  c.name = "tiny";
  c.hidden_size = 256;
  c.moe_intermediate_size = 128;
  c.num_experts = 4;
  c.top_k = 2;
  c.num_layers = 2;
  c.num_attention_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 64;
  c.vocab_size = 1000;
  c.max_position_embeddings = 64;
  return c;
}

MemoryRequest tiny_request() {
  MemoryRequest r;
  r.model = tiny();
  r.batch_size = 2;
  r.input_len = 8;
  r.output_len = 8;
  return r;
}

}  // namespace

TEST(MemoryModel, TinyWeightsBf16) {
  WeightBytes w = weight_bytes_per_gpu(tiny(), DType::bf16, {1, 1});
  // q, o: 256x256; k, v: 128x256; 2 layers; 2 bytes.
  EXPECT_EQ(w.attention, (2 * 256 * 256 + 2 * 128 * 256) * 2 * 2);
  // 4 experts x (gate + up + down) 3 x 256 x 128, 2 layers.
  EXPECT_EQ(w.routed_experts, 4 * 3 * 256 * 128 * 2 * 2);
  EXPECT_EQ(w.router, 256 * 4 * 2 * 2);
  EXPECT_EQ(w.embedding, 1000 * 256 * 2);
  EXPECT_EQ(w.lm_head, 1000 * 256 * 2);
  EXPECT_EQ(w.norms, (2 * 2 + 1) * 256 * 2);
  EXPECT_EQ(w.shared_experts + w.dense_mlp, 0);
  EXPECT_EQ(w.total(), 3389952);
  EXPECT_EQ(w.parameters, 3389952 / 2);
}

TEST(MemoryModel, TinyWeightsSplitByTpAndEp) {
  // tp 2, ep 2: 2 of 4 heads and 1 of 2 KV heads; 2 of 4 experts, whole (tp / ep = 1).
  WeightBytes w = weight_bytes_per_gpu(tiny(), DType::bf16, {2, 2});
  EXPECT_EQ(w.attention, (2 * 128 * 256 + 2 * 64 * 256) * 2 * 2);
  EXPECT_EQ(w.routed_experts, 2 * 3 * 256 * 128 * 2 * 2);
  EXPECT_EQ(w.embedding, 500 * 256 * 2);
  EXPECT_EQ(w.router, 256 * 4 * 2 * 2);  // replicated
  // tp 2, ep 1: all 4 experts, each split in two along the intermediate dimension: same bytes.
  EXPECT_EQ(weight_bytes_per_gpu(tiny(), DType::bf16, {2, 1}).routed_experts, w.routed_experts);
  // Vocabulary rows round up: 1000 / 3 -> 334.
  ModelConfig odd = tiny();
  odd.num_attention_heads = 3;
  odd.num_kv_heads = 3;
  EXPECT_EQ(weight_bytes_per_gpu(odd, DType::bf16, {3, 1}).embedding, 334 * 256 * 2);
}

TEST(MemoryModel, TinyWeightsFp8CarryBlockScales) {
  WeightBytes w = weight_bytes_per_gpu(tiny(), DType::fp8, {1, 1});
  // 1 byte per element plus fp32 scales: q, o 2x2 blocks, k, v 1x2 blocks; 2 layers.
  EXPECT_EQ(w.attention, (2 * 256 * 256 + 2 * 128 * 256) * 2 + (4 + 4 + 2 + 2) * 2 * 4);
  // Per expert: gate, up [128, 256] 1x2 blocks each, down [256, 128] 2x1: 6 scales.
  EXPECT_EQ(w.routed_experts, 4 * 3 * 256 * 128 * 2 + 4 * 6 * 2 * 4);
  // Embeddings, LM head, router and norms stay bf16.
  EXPECT_EQ(w.embedding, 1000 * 256 * 2);
  EXPECT_EQ(w.router, 256 * 4 * 2 * 2);
}

TEST(MemoryModel, SharedExpertsDenseLayersAndTiedEmbeddings) {
  ModelConfig c = tiny();
  c.num_shared_experts = 1;
  c.shared_intermediate_size = 256;
  c.first_k_dense_replace = 1;
  c.dense_intermediate_size = 512;
  c.tie_word_embeddings = true;
  WeightBytes w = weight_bytes_per_gpu(c, DType::bf16, {2, 2});
  EXPECT_EQ(w.routed_experts, 1 * 2 * 3 * 256 * 128 * 2);       // one MoE layer, 2 of 4 experts
  EXPECT_EQ(w.shared_experts, 1 * 3 * 256 * 256 * 2);           // tp / ep = 1: replicated whole
  EXPECT_EQ(w.dense_mlp, 1 * 3 * 256 * (512 / 2) * 2);          // split tp = 2 ways
  EXPECT_EQ(w.router, 1 * 256 * 4 * 2);
  EXPECT_EQ(w.lm_head, 0);
  EXPECT_EQ(moe_layer_expert_bytes(c, DType::bf16, {1, 1}), (4 * 3 * 256 * 128 + 3 * 256 * 256) * 2);
}

TEST(MemoryModel, TinyKvCachePerToken) {
  EXPECT_EQ(kv_cache_bytes_per_token(tiny(), DType::bf16, 1), 2 * 2 * 2 * 64 * 2);  // K+V, layers, heads, dim, B
  EXPECT_EQ(kv_cache_bytes_per_token(tiny(), DType::bf16, 2), 2 * 2 * 1 * 64 * 2);
  EXPECT_EQ(kv_cache_bytes_per_token(tiny(), DType::bf16, 4), 2 * 2 * 1 * 64 * 2);  // replicated: at least 1
  EXPECT_EQ(kv_cache_bytes_per_token(tiny(), DType::fp8, 1), 2 * 2 * 2 * 64 * 1);
}

TEST(MemoryModel, TinyInferenceBreakdown) {
  MemoryBreakdown b = estimate_memory(tiny_request());
  EXPECT_EQ(b.weight_bytes(), 3389952);
  EXPECT_EQ(b.bytes_of("kv_cache"), 2 * 16 * 1024);  // batch 2 x context 16 x 1 KiB
  // Prefill of 2 x 8 = 16 tokens.
  EXPECT_EQ(b.bytes_of("activations.hidden_states"), 3 * 16 * 256 * 2);
  EXPECT_EQ(b.bytes_of("activations.attention"), 16 * (256 + 128 + 128 + 256) * 2 + 16 * 4 * 4);
  EXPECT_EQ(b.bytes_of("activations.moe"), 16 * 2 * (256 + 2 * 128) * 2 + 16 * 4 * 4 + 16 * 2 * 8);
  EXPECT_EQ(b.bytes_of("activations.logits"), 2 * 1000 * 4);
  // Graphs for batch 1 and 2; the pool holds batch 2's decode buffers.
  const int64_t decode = 3 * 2 * 256 * 2 + (2 * 768 * 2 + 2 * 4 * 4) + (2 * 2 * 512 * 2 + 2 * 4 * 4 + 2 * 2 * 8) +
                         2 * 1000 * 4;
  EXPECT_EQ(b.bytes_of("cuda_graphs"), decode + 2 * 2 * kGraphBytesPerLayer);
  EXPECT_EQ(b.bytes_of("nccl"), 0);  // one GPU
  EXPECT_EQ(b.bytes_of("cuda_context"), kContextBytes);
  EXPECT_EQ(b.total_bytes(), 3389952 + 32768 + 24576 + 24832 + 33280 + 8000 + decode + 4 * kGraphBytesPerLayer +
                                 kContextBytes);
  // Chunked prefill bounds the prefill buffers; no graphs drops their line.
  MemoryRequest r = tiny_request();
  r.chunked_prefill_size = 4;
  r.cuda_graph_max_bs = 0;
  MemoryBreakdown chunked = estimate_memory(r);
  EXPECT_EQ(chunked.bytes_of("activations.hidden_states"), 3 * 4 * 256 * 2);
  EXPECT_EQ(chunked.bytes_of("cuda_graphs"), 0);
  // NCCL appears with more than one GPU.
  r.layout = {2, 1};
  EXPECT_GT(estimate_memory(r).bytes_of("nccl"), 0);
}

TEST(MemoryModel, TinyTrainingBreakdown) {
  MemoryRequest r = tiny_request();
  r.mode = MemoryMode::train;
  MemoryBreakdown b = estimate_memory(r);
  const int64_t params = 3389952 / 2;
  EXPECT_EQ(b.weight_bytes(), 2 * params);
  EXPECT_EQ(b.bytes_of("gradients"), 2 * params);
  EXPECT_EQ(b.bytes_of("optimizer"), 12 * params);
  EXPECT_EQ(b.bytes_of("kv_cache"), 0);
  // Per token: attention layer 2576 B, MoE layer 4624 B, final norm + fp32 logits 4512 B.
  const int64_t attention = 2 * 256 * 2 + (256 + 128 + 128 + 256) * 2 + 4 * 4;
  const int64_t moe = 2 * 256 * 2 + 4 * 4 + 2 * (2 * 256 + 3 * 128) * 2;
  const int64_t final_part = 256 * 2 + 1000 * 4;
  ASSERT_EQ(attention, 2576);
  ASSERT_EQ(moe, 4624);
  EXPECT_EQ(b.bytes_of("activations.saved"), 32 * (2 * attention + 2 * moe + final_part));
  EXPECT_EQ(b.bytes_of("buffers"), 3 * 32 * 256 * 2 + (32 * 768 * 2 + 32 * 16) + (32 * 2 * 512 * 2 + 32 * 16 + 32 * 16));
}

TEST(MemoryModel, SeedQwen3Fp8WeightsPerGpu) {
  // Seed 001: Qwen3-235B-A22B-Instruct-2507-FP8 under SGLang `--tp 8 --ep 2` on 8 H200s logs
  // "Model weights: ~27.87 GB per GPU" (torch's GB: GiB). The FP8 release has the preset's shapes.
  // Per GPU, 94 layers:
  //   routed experts: ep 2 -> 64 of 128 experts, tp/ep 4 -> 1536 / 4 = 384 wide each:
  //     64 x 3 x 4096 x 384 B = 302.0 MB per layer, plus fp32 scales 64 x (3+3+3) x 32 x 4 B;
  //     x 94 = 26.44 GiB
  //   attention: 8 of 64 heads, the 4 KV heads replicated to 1 per GPU:
  //     (1024 + 128 + 128) x 4096 + 4096 x 1024 B + scales = 9.4 MB per layer, x 94 = 0.83 GiB
  //   router 4096 x 128 bf16 x 94 = 0.09 GiB; embedding and LM head 151936 / 8 rows x 4096 bf16
  //     = 0.145 GiB each
  // = 27.65 GiB against the seed's 27.87 (the remainder is allocator rounding and buffers SGLang
  // counts with the weights).
  ModelConfig q = load_preset("qwen3-235b-a22b");
  WeightBytes w = weight_bytes_per_gpu(q, DType::fp8, {8, 2});
  EXPECT_EQ(w.routed_experts, 94 * (64 * 3 * int64_t(4096) * 384 + 64 * 9 * 32 * 4));
  const double gib = double(w.total()) / kGiB;
  EXPECT_NEAR(gib, 27.87, 27.87 * 0.10);
  EXPECT_NEAR(gib, 27.65, 0.01);
}

TEST(MemoryModel, SeedQwen3KvCachePerToken) {
  // Seed 001 (bf16 KV at TP8): 2 x 94 layers x 1 KV head x 128 x 2 B = 48,128 B = 47 KiB per token;
  // its 60.43 GiB of K for ~2.7 M tokens agrees (24,064 B of K per token).
  ModelConfig q = load_preset("qwen3-235b-a22b");
  EXPECT_EQ(kv_cache_bytes_per_token(q, DType::bf16, 8), 2 * 94 * 1 * 128 * 2);
  EXPECT_NEAR(double(kv_cache_bytes_per_token(q, DType::bf16, 8)) / 1024, 47.0, 0.01);
  EXPECT_NEAR(60.43 * kGiB / (kv_cache_bytes_per_token(q, DType::bf16, 8) / 2) / 1e6, 2.7, 0.01);
}

TEST(MemoryModel, SeedQwen3CudaGraphEstimate) {
  // Seed 001 captured 52 batch sizes (up to 512) in ~2.93 GiB per GPU: the estimate is within 10%.
  EXPECT_EQ(cuda_graph_batch_sizes(512).size(), 52u);
  EXPECT_EQ(cuda_graph_batch_sizes(1), (std::vector<int64_t>{1}));
  EXPECT_EQ(cuda_graph_batch_sizes(3), (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(cuda_graph_batch_sizes(13), (std::vector<int64_t>{1, 2, 4, 8, 12, 16}));
  MemoryRequest r;
  r.model = load_preset("qwen3-235b-a22b");
  r.weight_dtype = DType::fp8;
  r.layout = {8, 2};
  r.cuda_graph_max_bs = 512;
  EXPECT_NEAR(double(estimate_memory(r).bytes_of("cuda_graphs")) / kGiB, 2.93, 2.93 * 0.10);
}

TEST(MemoryModel, MlaKvCacheIsTheLatentOnEveryGpu) {
  ModelConfig d = load_preset("deepseek-v3");
  // 61 layers x (kv_lora_rank 512 + qk_rope_head_dim 64) x 2 B, whatever the TP.
  EXPECT_EQ(kv_cache_bytes_per_token(d, DType::bf16, 1), 61 * (512 + 64) * 2);
  EXPECT_EQ(kv_cache_bytes_per_token(d, DType::bf16, 8), 61 * (512 + 64) * 2);
}

TEST(MemoryModel, LargestBatchThatFits) {
  MemoryRequest r = tiny_request();
  for (int64_t n : {1, 2, 3, 7, 40, 1000}) {
    r.batch_size = n;
    const int64_t needed = estimate_memory(r).total_bytes();
    EXPECT_EQ(largest_fitting_batch(r, needed), n);
    EXPECT_EQ(largest_fitting_batch(r, needed - 1), n - 1);
  }
  r.batch_size = 1;
  EXPECT_EQ(largest_fitting_batch(r, 1000), 0);
}

TEST(MemoryModel, SmallestLayoutThatFits) {
  MemoryRequest r;
  r.model = load_preset("qwen3-235b-a22b");
  r.weight_dtype = DType::bf16;
  // bf16 weights are ~438 GiB: 8 GPUs of 80 GiB hold them, 4 do not.
  std::optional<LayoutFit> fit = smallest_fitting_layout(r, kDefaultGpuMemoryBytes);
  ASSERT_TRUE(fit);
  EXPECT_EQ(fit->layout.tp, 8);
  EXPECT_EQ(fit->layout.ep, 1);
  // The requested ep is tried first where it is valid.
  r.layout = {8, 4};
  fit = smallest_fitting_layout(r, kDefaultGpuMemoryBytes);
  ASSERT_TRUE(fit);
  EXPECT_EQ(fit->layout.tp, 8);
  EXPECT_EQ(fit->layout.ep, 4);
  // fp8 halves the weights: 4 GPUs suffice.
  r.weight_dtype = DType::fp8;
  r.layout = {8, 2};
  fit = smallest_fitting_layout(r, kDefaultGpuMemoryBytes);
  ASSERT_TRUE(fit);
  EXPECT_EQ(fit->layout.tp, 4);
  EXPECT_EQ(fit->layout.ep, 2);
  EXPECT_LE(fit->needed_bytes, kDefaultGpuMemoryBytes);
  // Nothing up to 8 GPUs holds it in 16 GiB.
  EXPECT_FALSE(smallest_fitting_layout(r, int64_t(16) << 30));
}

TEST(MemoryModel, LayoutProblems) {
  ModelConfig c = tiny();
  EXPECT_FALSE(layout_problem(c, DType::bf16, {4, 4}));
  EXPECT_NE(layout_problem(c, DType::bf16, {4, 8}).value_or("").find("multiple of --ep-size"), std::string::npos);
  EXPECT_NE(layout_problem(c, DType::bf16, {3, 3}).value_or("").find("num_experts (4) must be divisible by ep_size (3)"),
            std::string::npos);
  c.num_attention_heads = 12;
  c.num_kv_heads = 6;
  c.num_experts = 8;
  EXPECT_NE(layout_problem(c, DType::bf16, {4, 1}).value_or("").find("num_key_value_heads (6) must be divisible by "
                                                                     "tp_size (4)"),
            std::string::npos);
  c.num_attention_heads = 24;
  c.num_kv_heads = 3;
  EXPECT_NE(layout_problem(c, DType::bf16, {8, 1}).value_or("").find("tp_size (8) must be a multiple of "
                                                                     "num_key_value_heads (3)"),
            std::string::npos);
  c.moe_intermediate_size = 384;
  EXPECT_FALSE(layout_problem(c, DType::bf16, {6, 1}));  // 24 / 6 heads, each KV head on 2 GPUs
  // fp8: a 128-wide expert split 2 ways is not a whole scale block.
  EXPECT_NE(layout_problem(tiny(), DType::fp8, {2, 1}).value_or("").find("fp8 scale block"), std::string::npos);
  EXPECT_FALSE(layout_problem(tiny(), DType::fp8, {2, 2}));
}

TEST(MemoryModel, BadRequests) {
  auto expect_error = [](MemoryRequest r, const std::string& part) {
    try {
      estimate_memory(r);
      ADD_FAILURE() << "no error for " << part;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  MemoryRequest r = tiny_request();
  r.batch_size = 0;
  expect_error(r, "--batch-size must be positive");
  r = tiny_request();
  r.input_len = 60;
  expect_error(r, "exceeds max_position_embeddings (64)");
  r = tiny_request();
  r.mode = MemoryMode::train;
  r.weight_dtype = DType::fp8;
  expect_error(r, "--mode train --dtype fp8");
  r = tiny_request();
  r.batch_size = int64_t(1) << 40;
  expect_error(r, "--batch-size");
  r = tiny_request();
  r.model.num_layers = 0;
  expect_error(r, "decoder stack");
}

TEST(MemoryFit, GpuMemorySourcesAndPreflight) {
  EXPECT_EQ(resolve_gpu_memory(std::nullopt, nullptr).bytes, int64_t(80) << 30);
  EXPECT_NE(resolve_gpu_memory(std::nullopt, nullptr).source.find("H100"), std::string::npos);
  GpuMemoryProbe probe = []() -> std::optional<GpuMemory> { return GpuMemory{int64_t(141) << 30, "probe"}; };
  EXPECT_EQ(resolve_gpu_memory(std::nullopt, probe).bytes, int64_t(141) << 30);
  EXPECT_EQ(resolve_gpu_memory(40.0, probe).bytes, int64_t(40) << 30);
  EXPECT_THROW(resolve_gpu_memory(0.0, probe), InputError);
  EXPECT_THROW(resolve_gpu_memory(-3.0, probe), InputError);

  EXPECT_EQ(needed_vs_available(int64_t(30) << 30, int64_t(80) << 30), "needed 30.0 GiB vs available 80.0 GiB");
  EXPECT_NO_THROW(refuse_if_not_fitting("m", 10, 10, "", "fix"));
  try {
    refuse_if_not_fitting("big", int64_t(90) << 30, int64_t(80) << 30, " on GPU", "use fewer tokens");
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "big does not fit: needed 90.0 GiB vs available 80.0 GiB on GPU; use fewer tokens");
  }
}
