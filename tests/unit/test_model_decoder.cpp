// The decoder stack on the CPU backend: a tiny model end to end (deterministic next tokens,
// finite logits), a decode step over the KV cache against a re-prefill of the longer sequence
// (the cache and the RoPE positions), chunked prefill against one step, the prefill plan,
// the metric arithmetic, the TPOT floor's bytes and the derived decoder configs.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "analysis/decode_floor.hpp"
#include "analysis/memory_model.hpp"
#include "bench/model_metrics.hpp"
#include "core/errors.hpp"
#include "core/presets.hpp"
#include "model/decoder.hpp"
#include "model/model_weights.hpp"

namespace moebench {
namespace {

// The tiny preset on the CPU: weights, the reference MoE, the ops and a decoder.
struct TinyModel {
  std::unique_ptr<Backend> backend = make_backend(BackendKind::cpu);
  DecoderConfig config = make_decoder_config(load_preset("tiny"), std::nullopt, DType::bf16);
  DecoderLimits limits;
  std::unique_ptr<ModelWeights> weights;
  std::unique_ptr<MoeImpl> moe;
  std::unique_ptr<ModelOps> ops;
  std::unique_ptr<Decoder> decoder;

  TinyModel(int64_t max_batch, int64_t input_len, int64_t max_context, int64_t prefill_chunk = 8192) {
    limits = {max_batch, input_len, max_context, prefill_chunk};
    weights = std::make_unique<ModelWeights>(*backend, config, 5);
    moe = select_impls({"reference"}, BackendKind::cpu).front()->make(*backend);
    LayerSpec spec;
    spec.model = config.model;
    spec.dtype = config.dtype;
    spec.max_tokens = limits.max_step_rows();
    const int first_moe = config.model.first_k_dense_replace;
    spec.seed = layer_seed(5, first_moe);
    moe->prepare(spec, weights->layer(first_moe).experts->view());
    ops = make_model_ops(*backend, config.dtype, AttentionDims{});
    decoder = std::make_unique<Decoder>(*backend, config, *weights, *ops, moe.get(), limits);
  }

  int64_t vocab() const { return config.model.vocab_size; }
  std::vector<int32_t> tokens(int64_t batch) const {
    return std::vector<int32_t>(decoder->tokens(), decoder->tokens() + batch);
  }
  std::vector<float> logits(int64_t batch) const {
    return std::vector<float>(decoder->logits(), decoder->logits() + batch * vocab());
  }
};

std::vector<int32_t> prompts(int64_t batch, int64_t len, int64_t vocab) {
  std::vector<int32_t> p(size_t(batch * len));
  for (size_t i = 0; i < p.size(); ++i) p[i] = int32_t((i * 7919 + 13) % size_t(vocab));
  return p;
}

double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

// Prefill then `steps` decode steps; the tokens generated, sequence-major per step.
std::vector<int32_t> generate(TinyModel& t, const std::vector<int32_t>& prompt, int64_t batch, int64_t len,
                              int steps) {
  KvCache cache(*t.backend, t.config, batch, t.limits.max_context);
  t.decoder->prefill(cache, prompt.data(), batch, len);
  std::vector<int32_t> out = t.tokens(batch);
  t.decoder->start_decode(batch, len);
  for (int s = 0; s < steps; ++s) {
    t.decoder->decode_step(cache, batch);
    for (float v : t.logits(batch)) EXPECT_TRUE(std::isfinite(v));
    std::vector<int32_t> next = t.tokens(batch);
    out.insert(out.end(), next.begin(), next.end());
  }
  return out;
}

TEST(ModelDecoder, TinyModelEndToEndIsDeterministicAndFinite) {
  const int64_t B = 2, L = 12;
  TinyModel a(B, L, L + 6), b(B, L, L + 6);
  const std::vector<int32_t> p = prompts(B, L, a.vocab());
  const std::vector<int32_t> first = generate(a, p, B, L, 5), second = generate(b, p, B, L, 5);
  EXPECT_EQ(first, second);
  ASSERT_EQ(first.size(), size_t(B * 6));
  for (int32_t tok : first) {
    EXPECT_GE(tok, 0);
    EXPECT_LT(tok, a.vocab());
  }
  // Different prompts lead somewhere else: the tokens depend on the input.
  std::vector<int32_t> other = p;
  for (int32_t& tok : other) tok = int32_t((tok + 101) % a.vocab());
  EXPECT_NE(generate(a, other, B, L, 5), first);
}

TEST(ModelDecoder, DecodeStepOverTheCacheEqualsReprefillOfTheLongerSequence) {
  const int64_t B = 2, L = 9;
  TinyModel t(B, L + 1, L + 2);
  const std::vector<int32_t> p = prompts(B, L, t.vocab());
  KvCache cache(*t.backend, t.config, B, L + 2);
  t.decoder->prefill(cache, p.data(), B, L);
  const std::vector<int32_t> next = t.tokens(B);
  t.decoder->start_decode(B, L);
  t.decoder->decode_step(cache, B);
  const std::vector<float> decoded = t.logits(B);
  const std::vector<int32_t> decoded_tokens = t.tokens(B);

  std::vector<int32_t> longer;
  for (int64_t b = 0; b < B; ++b) {
    longer.insert(longer.end(), p.begin() + b * L, p.begin() + (b + 1) * L);
    longer.push_back(next[size_t(b)]);
  }
  KvCache fresh(*t.backend, t.config, B, L + 2);
  t.decoder->prefill(fresh, longer.data(), B, L + 1);
  EXPECT_LT(rel_error(decoded, t.logits(B)), 2e-2);
  EXPECT_EQ(decoded_tokens, t.tokens(B));
}

TEST(ModelDecoder, ChunkedPrefillEqualsOneStep) {
  const int64_t B = 3, L = 12;
  TinyModel whole(B, L, L + 4), pieces(B, L, L + 4, 5), groups(B, L, L + 4, 24);
  const std::vector<int32_t> p = prompts(B, L, whole.vocab());
  const std::vector<int32_t> expected = generate(whole, p, B, L, 3);
  const std::vector<float> expected_logits = whole.logits(B);
  EXPECT_EQ(generate(pieces, p, B, L, 3), expected);
  EXPECT_LT(rel_error(pieces.logits(B), expected_logits), 2e-2);
  EXPECT_EQ(generate(groups, p, B, L, 3), expected);
  EXPECT_LT(rel_error(groups.logits(B), expected_logits), 2e-2);
}

TEST(ModelDecoder, PrefillPlan) {
  std::vector<PrefillChunk> grouped = plan_prefill(5, 4, 8);
  ASSERT_EQ(grouped.size(), 3u);
  EXPECT_EQ(grouped[0].first_seq, 0);
  EXPECT_EQ(grouped[0].sequences, 2);
  EXPECT_EQ(grouped[2].first_seq, 4);
  EXPECT_EQ(grouped[2].sequences, 1);
  EXPECT_EQ(grouped[2].len, 4);
  std::vector<PrefillChunk> split = plan_prefill(2, 10, 4);
  ASSERT_EQ(split.size(), 6u);
  EXPECT_EQ(split[1].first_seq, 0);
  EXPECT_EQ(split[1].start_pos, 4);
  EXPECT_EQ(split[2].start_pos, 8);
  EXPECT_EQ(split[2].len, 2);
  EXPECT_EQ(split[3].first_seq, 1);
  EXPECT_EQ(prefill_step_rows(5, 4, 8), 8);
  EXPECT_EQ(prefill_step_rows(1, 4, 8), 4);
  EXPECT_EQ(prefill_step_rows(2, 10, 4), 4);
  EXPECT_EQ((DecoderLimits{64, 10, 20, 4}.max_step_rows()), 64);
}

TEST(ModelMetrics, HandComputed) {
  // Batch 4, input 100, output 3: two decode steps per run.
  std::vector<ModelRunTimes> runs = {{200, 20, {9, 11}}, {300, 40, {19, 21}}};
  ModelMetrics m = model_metrics(runs, 4, 100, 3);
  EXPECT_DOUBLE_EQ(m.ttft_ms.mean, 250);
  EXPECT_DOUBLE_EQ(m.ttft_ms.min, 200);
  EXPECT_DOUBLE_EQ(m.tpot_ms.mean, 15);  // 10 and 20
  EXPECT_DOUBLE_EQ(m.itl_ms.mean, 15);
  EXPECT_DOUBLE_EQ(m.itl_ms.max, 21);
  EXPECT_DOUBLE_EQ(m.e2e_ms.mean, 280);  // 220 and 340
  EXPECT_DOUBLE_EQ(m.decode_tok_per_sec_per_sample, 1000.0 / 15);
  EXPECT_DOUBLE_EQ(m.decode_tok_per_sec, 4000.0 / 15);
  EXPECT_DOUBLE_EQ(m.prefill_tok_per_sec, 400 / 0.25);
  EXPECT_DOUBLE_EQ(m.e2e_tok_per_sec_per_sample, 3 / 0.28);
  EXPECT_DOUBLE_EQ(m.e2e_tok_per_sec, 12 / 0.28);
  EXPECT_THROW(model_metrics({}, 1, 1, 1), std::invalid_argument);
  EXPECT_THROW(model_metrics(runs, 4, 100, 5), std::invalid_argument);
}

TEST(DecodeFloor, BytesByHand) {
  ModelConfig m = load_preset("tiny");  // H 128, 4 layers (1 dense), 8 experts of 64, GQA 4/2 x 64, vocab 512
  const std::vector<int> active = {2, 3, 4};
  DecodeStepBytes b = decode_step_bytes(m, DType::bf16, 2, 10, active);
  const int64_t attention = 4 * 2 * (128 * (256 + 128 + 128) + 256 * 128 + 2 * 64);  // qkv, o, q/k norms
  const int64_t dense = 2 * 3 * 128 * 256;
  const int64_t router = 3 * 2 * 8 * 128;
  const int64_t norms = 2 * (2 * 4 + 1) * 128;
  EXPECT_EQ(b.weights, attention + dense + router + norms + 2 * 512 * 128 + 2 * 2 * 128);
  EXPECT_EQ(b.routed_experts, (2 + 3 + 4) * 3 * 128 * 64 * 2);
  EXPECT_EQ(b.kv_cache, 2 * 10 * (4 * 2 * 2 * 64 * 2));
  EXPECT_DOUBLE_EQ(bandwidth_floor_ms(2'000'000'000, 1000.0), 2.0);  // 2 GB at 1000 GB/s
}

TEST(DecoderConfig, TruncationAndMlaApproximationAreStated) {
  DecoderConfig d = make_decoder_config(load_preset("deepseek-v3"), 4, DType::bf16);
  EXPECT_EQ(d.model.num_layers, 4);
  EXPECT_EQ(d.full_layers, 61);
  EXPECT_EQ(d.model.first_k_dense_replace, 3);
  EXPECT_EQ(d.truncation_note, "stack: truncated to the first 4 of 61 layers (3 dense, 1 MoE)");
  // MLA's latent: 512 + 64 = 576 values per token and layer; GQA of 128-wide heads, 2 KV heads: 512.
  EXPECT_EQ(d.model.attention, AttentionKind::gqa);
  EXPECT_EQ(d.model.head_dim, 128);
  EXPECT_EQ(d.model.num_kv_heads, 2);
  EXPECT_NE(d.attention_note.find("attention: MLA approximated by GQA (2 KV heads x 128: 512 KV values/token/layer "
                                  "where MLA's latent holds 576, 89%"),
            std::string::npos)
      << d.attention_note;
  DecoderConfig whole = make_decoder_config(load_preset("qwen3-30b-a3b"), 48, DType::bf16);
  EXPECT_TRUE(whole.truncation_note.empty());
  EXPECT_TRUE(whole.attention_note.empty());
  EXPECT_THROW(make_decoder_config(load_preset("tiny"), 5, DType::bf16), InputError);
  EXPECT_THROW(make_decoder_config(load_preset("tiny"), 0, DType::bf16), InputError);
  EXPECT_THROW(make_decoder_config(load_preset("tiny"), std::nullopt, DType::fp8), InputError);
}

}  // namespace
}  // namespace moebench
