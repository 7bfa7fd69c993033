// Attention that is not plain: gpt-oss's sliding-window layers (layer_types, sliding_window)
// are read from config.json, counted as such by the memory model (a sliding layer's KV cache
// holds min(context, window) tokens) and run as such by the CPU decoder's attention; and the
// MoE shape, shared experts included, reads in one phrase.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "analysis/memory_model.hpp"
#include "backend/backend.hpp"
#include "core/dtype.hpp"
#include "core/presets.hpp"
#include "core/synthetic.hpp"
#include "model/decoder_config.hpp"
#include "model/model_ops.hpp"

using namespace moebench;

namespace {

ModelConfig gpt_oss_20b() {
  return load_hf_config((std::filesystem::path(MOEBENCH_TEST_DATA) / "hf" / "gpt_oss").string());
}

}  // namespace

TEST(SlidingWindow, ReadFromLayerTypes) {
  const ModelConfig c = gpt_oss_20b();
  EXPECT_EQ(c.sliding_window, 128);
  ASSERT_EQ(c.sliding_layers.size(), 24u);
  EXPECT_EQ(c.sliding_layer_count(), 12);
  EXPECT_TRUE(c.layer_is_sliding(0));
  EXPECT_FALSE(c.layer_is_sliding(1));
  // Qwen writes a sliding_window it does not use; Mixtral writes null: no sliding layers.
  for (const char* family : {"qwen2_moe", "qwen3_moe", "mixtral"})
    EXPECT_EQ(load_hf_config((std::filesystem::path(MOEBENCH_TEST_DATA) / "hf" / family).string())
                  .sliding_layer_count(),
              0)
        << family;
  // --num-layers keeps the per-layer types of the layers that run.
  const DecoderConfig d = make_decoder_config(c, 3, DType::bf16);
  EXPECT_EQ(d.model.sliding_layers, (std::vector<bool>{true, false, true}));
}

TEST(SlidingWindow, MemoryModelCountsTheWindowOnSlidingLayers) {
  MemoryRequest r;
  r.model = gpt_oss_20b();
  r.batch_size = 2;
  r.input_len = 4096;
  r.output_len = 256;
  const MemoryBreakdown b = estimate_memory(r);
  const int64_t per_layer = b.kv_bytes_per_token / r.model.num_layers;
  EXPECT_EQ(b.bytes_of("kv_cache"), 2 * (4352 * per_layer * 12 + 128 * per_layer * 12));
  const auto line = std::find_if(b.lines.begin(), b.lines.end(), [](const MemoryLine& l) { return l.key == "kv_cache"; });
  ASSERT_NE(line, b.lines.end());
  EXPECT_NE(line->basis.find("on 12 sliding layers"), std::string::npos) << line->basis;
  // A context within the window: every layer holds the whole context.
  r.input_len = 64;
  r.output_len = 0;
  EXPECT_EQ(estimate_memory(r).bytes_of("kv_cache"), 2 * 64 * b.kv_bytes_per_token);
}

// The CPU attention against a plain loop: query p attends to keys (p - window, p].
TEST(SlidingWindow, CpuAttentionAttendsOnlyWithinTheWindow) {
  std::unique_ptr<Backend> backend = make_backend(BackendKind::cpu);
  AttentionDims d;
  d.batch = 1;
  d.num_heads = 2;
  d.num_kv_heads = 1;
  d.head_dim = 8;
  d.max_context = 12;
  d.softmax_scale = 1.0f / std::sqrt(8.0f);
  const int len = 12;
  std::unique_ptr<ModelOps> ops = make_model_ops(*backend, DType::bf16, d);
  std::vector<uint16_t> q(size_t(len * d.num_heads * d.head_dim)), k(size_t(len * d.head_dim)), v(k.size());
  backend->fill_synthetic(q.data(), DType::bf16, q.size(), 5, 1, 0, 1.7f);
  backend->fill_synthetic(k.data(), DType::bf16, k.size(), 5, 2, 0, 1.7f);
  backend->fill_synthetic(v.data(), DType::bf16, v.size(), 5, 3, 0, 1.7f);
  for (int window : {0, 1, 3, 12, 40}) {
    SCOPED_TRACE(window);
    d.window = window;
    std::vector<uint16_t> out(q.size());
    ops->attention_prefill(q.data(), k.data(), v.data(), out.data(), d, len, 0);
    for (int p = 0; p < len; ++p)
      for (int h = 0; h < d.num_heads; ++h) {
        const int first = window > 0 ? std::max(0, p - window + 1) : 0;
        std::vector<double> w;
        double mx = -INFINITY, sum = 0;
        for (int j = first; j <= p; ++j) {
          double dot = 0;
          for (int c = 0; c < d.head_dim; ++c)
            dot += half_bits_to_float(q[size_t((p * d.num_heads + h) * d.head_dim + c)], DType::bf16) *
                   half_bits_to_float(k[size_t(j * d.head_dim + c)], DType::bf16);
          w.push_back(dot * d.softmax_scale);
          mx = std::max(mx, w.back());
        }
        for (double& x : w) sum += (x = std::exp(x - mx));
        for (int c = 0; c < d.head_dim; ++c) {
          double expected = 0;
          for (int j = first; j <= p; ++j)
            expected += w[size_t(j - first)] / sum * half_bits_to_float(v[size_t(j * d.head_dim + c)], DType::bf16);
          const double got = half_bits_to_float(out[size_t((p * d.num_heads + h) * d.head_dim + c)], DType::bf16);
          EXPECT_NEAR(got, expected, 2e-2 * std::max(1.0, std::abs(expected))) << "p " << p << " h " << h;
        }
      }
  }
}

TEST(MoeShape, DescribedInOnePhraseWithSharedExperts) {
  ModelConfig m;
  m.num_experts = 128;
  m.top_k = 8;
  m.hidden_size = 7168;
  m.moe_intermediate_size = 2048;
  EXPECT_EQ(describe_moe_shape(m), "128 experts top-8, H=7168 I=2048");
  m.num_shared_experts = 2;
  m.shared_intermediate_size = 2048;
  EXPECT_EQ(describe_moe_shape(m), "128 experts top-8, 2 shared experts of width 2048, H=7168 I=2048");
  m.num_shared_experts = 1;
  m.shared_intermediate_size = 20480;
  m.shared_expert_gate = true;
  EXPECT_EQ(describe_moe_shape(m), "128 experts top-8, 1 shared expert of width 20480 (gated), H=7168 I=2048");
}
