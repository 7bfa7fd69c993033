// The decoder stack over tensor-parallel CPU ranks (model/decoder.hpp with a communicator, on the
// Gloo plugin), in the test process: forked ranks, each holding its shard of the weights
// (model/model_weights.hpp's ModelRank, moe/rank_weights.hpp), run a prefill and decode steps of
// one batch; every rank's generated tokens must be the one-device decoder's and its logits (the
// whole vocabulary, gathered) within the decoder tests' tolerance of the one-device logits.
// Layouts: pure TP, KV heads replicated (tp above the KV heads), MoE layers in tp and in ep,
// hybrid EP x TP inside the MoE, a model with a gated shared expert; and a world of one rank
// with a communicator, which must compute what the one-device decoder computes. Also the shard
// arithmetic and a rank's part of an MoE layer against the whole layer's values.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "analysis/memory_model.hpp"
#include "core/presets.hpp"
#include "dist/communicator.hpp"
#include "dist/rendezvous.hpp"
#include "dist/self_communicator.hpp"
#include "dist/tcp_socket.hpp"
#include "model/decoder.hpp"
#include "model/model_weights.hpp"
#include "moe/local_experts.hpp"
#include "moe/rank_weights.hpp"
#include "unit/dist_ranks.hpp"

using namespace moebench;
using namespace moebench::testing;

namespace {

constexpr uint64_t kSeed = 5;

// The tiny preset, or the same with a gated shared expert (Qwen2-MoE's) beside the routed ones.
ModelConfig test_model(bool shared) {
  ModelConfig m = load_preset("tiny");
  if (shared) {
    m.num_shared_experts = 1;
    m.shared_intermediate_size = 96;
    m.shared_expert_gate = true;
  }
  return m;
}

const ImplInfo& cpu_impl(const std::string& name) {
  for (const ImplInfo& info : all_impls())
    if (info.name == name && info.backend == BackendKind::cpu) return info;
  throw std::runtime_error("no CPU implementation " + name);
}

// What a generation produced: every step's tokens, sequence-major, and the logits of the prefill
// and of the last step.
struct Generation {
  std::vector<int32_t> tokens;
  std::vector<float> prefill_logits, last_logits;
};

// A decoder on the CPU backend: the whole model with the reference MoE (no communicator), or
// the rank's shard with `impl` (ep or tp) over `comm`.
struct Model {
  std::unique_ptr<Backend> backend = make_backend(BackendKind::cpu);
  DecoderConfig config;
  DecoderLimits limits;
  std::unique_ptr<ModelWeights> weights;
  std::unique_ptr<MoeImpl> moe;
  std::unique_ptr<ModelOps> ops;
  std::unique_ptr<Decoder> decoder;

  Model(const ModelConfig& m, int64_t batch, int64_t len, int64_t context, Communicator* comm = nullptr,
        const std::string& impl = "reference", int ep = 1) {
    config = make_decoder_config(m, std::nullopt, DType::bf16);
    limits = {batch, len, context, 8192};
    const ImplInfo& info = cpu_impl(impl);
    const int tp = comm ? comm->size() : 1, rank = comm ? comm->rank() : 0;
    if (comm)
      weights = std::make_unique<ModelWeights>(
          *backend, config, kSeed, ModelRank{decoder_shard(config, tp, rank), MoeParallel{tp, ep, rank}, info.holds});
    else
      weights = std::make_unique<ModelWeights>(*backend, config, kSeed);
    moe = info.make(*backend);
    LayerSpec spec;
    spec.model = config.model;
    spec.dtype = config.dtype;
    spec.max_tokens = limits.max_step_rows();
    if (comm) spec.parallel = {tp, ep, rank, comm};
    const int first_moe = config.model.first_k_dense_replace;
    spec.seed = layer_seed(kSeed, first_moe);
    moe->prepare(spec, weights->layer(first_moe).experts->view());
    ops = make_model_ops(*backend, config.dtype, AttentionDims{});
    DecoderRanks ranks;
    ranks.comm = comm;
    ranks.moe_token_slice = comm && info.rank_tokens == RankTokens::token_slice;
    decoder = std::make_unique<Decoder>(*backend, config, *weights, *ops, moe.get(), limits, ranks);
  }

  std::vector<float> logits(int64_t batch) const {
    return std::vector<float>(decoder->logits(), decoder->logits() + batch * config.model.vocab_size);
  }

  Generation generate(const std::vector<int32_t>& prompts, int64_t batch, int64_t len, int steps) {
    Generation g;
    KvCache cache(*backend, config, weights->shard(), batch, limits.max_context);
    decoder->prefill(cache, prompts.data(), batch, len);
    g.tokens.assign(decoder->tokens(), decoder->tokens() + batch);
    g.prefill_logits = logits(batch);
    decoder->start_decode(batch, len);
    for (int s = 0; s < steps; ++s) {
      decoder->decode_step(cache, batch);
      g.tokens.insert(g.tokens.end(), decoder->tokens(), decoder->tokens() + batch);
    }
    g.last_logits = logits(batch);
    return g;
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
    if (!std::isfinite(a[i])) return INFINITY;
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

// "" when `got` is the one-device generation within the decoder tests' tolerance, else what differs.
std::string compare(const Generation& got, const Generation& want) {
  if (got.tokens != want.tokens) {
    std::string g, w;
    for (size_t i = 0; i < got.tokens.size(); ++i) {
      g += fmt::format(" {}", got.tokens[i]);
      w += fmt::format(" {}", want.tokens[i]);
    }
    return fmt::format("tokens{} vs one device's{}", g, w);
  }
  const double prefill = rel_error(got.prefill_logits, want.prefill_logits);
  const double last = rel_error(got.last_logits, want.last_logits);
  if (!(prefill < 2e-2) || !(last < 2e-2))
    return fmt::format("logits differ from one device's by {} (prefill), {} (last step)", prefill, last);
  return "";
}

constexpr int64_t kBatch = 3, kLen = 10;
constexpr int kSteps = 5;

// Every rank of `tp` (ep groups in the MoE layers) generates what one device generates. The seed
// (kSeed) is one whose greedy tokens have no near tie: the ranks round at bf16 where one device
// does not quite (fp32 partial sums rounded after the all-reduce, expert rows rounded before
// their weighted sum), about 5e-3 of the logits, and at a near tie of two logits or of two
// experts' router scores a token goes the other way, with the generation after it.
void expect_ranks_generate_as_one_device(int tp, int ep, const std::string& impl, bool shared) {
  SCOPED_TRACE(fmt::format("tp {} ep {} impl {}{}", tp, ep, impl, shared ? " shared expert" : ""));
  const ModelConfig m = test_model(shared);
  const std::vector<int32_t> p = prompts(kBatch, kLen, m.vocab_size);
  const Generation want = Model(m, kBatch, kLen, kLen + kSteps + 1).generate(p, kBatch, kLen, kSteps);
  const int port = pick_free_port();
  const auto runs = run_ranks(all_ranks(tp), [&](int rank) -> std::string {
    RendezvousOptions options;
    options.timeout_s = 20;
    std::unique_ptr<Communicator> comm;
    {
      auto rendezvous = Rendezvous::join(local_rank_env(rank, tp, port), options);
      comm = make_cpu_communicator(*rendezvous);
    }
    Model ranked(m, kBatch, kLen, kLen + kSteps + 1, comm.get(), impl, ep);
    return compare(ranked.generate(p, kBatch, kLen, kSteps), want);
  }, 60);
  for (const RankRun& r : runs) EXPECT_TRUE(r.ok()) << "rank " << r.rank << ": " << r.message;
}

}  // namespace

namespace {
struct ModelLayout {
  int tp, ep;
  const char* impl;
  bool shared;
};
}  // namespace

class ParallelModelRanks : public ::testing::TestWithParam<ModelLayout> {};

TEST_P(ParallelModelRanks, EveryRankGeneratesWhatOneDeviceGenerates) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  const ModelLayout l = GetParam();
  expect_ranks_generate_as_one_device(l.tp, l.ep, l.impl, l.shared);
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, ParallelModelRanks,
    ::testing::Values(ModelLayout{2, 1, "tp", false},  // 2 of 4 heads, 1 of 2 KV heads per rank
                      ModelLayout{4, 1, "tp", false},  // 1 head per rank, each KV head on 2 ranks
                      ModelLayout{4, 2, "tp", true},   // hybrid EP x TP inside the MoE, a gated shared expert
                      ModelLayout{2, 2, "ep", true},   // rows dispatched, outputs all-gathered
                      ModelLayout{4, 4, "ep", false}),  // a decode step of 3 rows: a rank without rows
    [](const auto& info) {
      return fmt::format("tp{}_ep{}_{}{}", info.param.tp, info.param.ep, info.param.impl,
                         info.param.shared ? "_shared" : "");
    });

TEST(ParallelModel, OneRankWithACommunicatorIsTheOneDeviceDecoder) {
  const ModelConfig m = test_model(true);
  const std::vector<int32_t> p = prompts(kBatch, kLen, m.vocab_size);
  const Generation want = Model(m, kBatch, kLen, kLen + kSteps + 1).generate(p, kBatch, kLen, kSteps);
  SelfCommunicator self;
  for (const char* impl : {"tp", "ep"}) {
    Model one(m, kBatch, kLen, kLen + kSteps + 1, &self, impl);
    EXPECT_EQ(compare(one.generate(p, kBatch, kLen, kSteps), want), "") << impl;
  }
}

TEST(ParallelModel, ShardsSplitHeadsVocabularyAndDenseColumns) {
  const DecoderConfig d = make_decoder_config(load_preset("qwen3-235b-a22b"), std::nullopt, DType::bf16);
  // 64 query heads, 4 KV heads, vocabulary 151936 at TP8: 8 heads and one KV head per rank,
  // each KV head on 2 ranks; 18992 vocabulary rows per rank.
  const DecoderShard s = decoder_shard(d, 8, 5);
  EXPECT_EQ(s.heads, 8);
  EXPECT_EQ(s.first_head, 40);
  EXPECT_EQ(s.kv_heads, 1);
  EXPECT_EQ(s.first_kv_head, 2);
  EXPECT_EQ(s.vocab_stride, 18992);
  EXPECT_EQ(s.vocab_begin, 5 * 18992);
  EXPECT_EQ(s.vocab_rows(), 18992);
  EXPECT_EQ(s.q_width(), 8 * 128);
  EXPECT_EQ(s.kv_width(), 128);
  // An uneven vocabulary: the last rank has fewer rows, the ranks' rows make it whole.
  DecoderConfig odd = make_decoder_config(load_preset("tiny"), std::nullopt, DType::bf16);
  odd.model.vocab_size = 509;
  int64_t rows = 0;
  for (int r = 0; r < 4; ++r) {
    const DecoderShard t = decoder_shard(odd, 4, r);
    EXPECT_EQ(t.vocab_begin, rows);
    rows += t.vocab_rows();
    EXPECT_EQ(t.dense_inter, 64);
    EXPECT_EQ(t.dense_begin, 64 * r);
    EXPECT_EQ(t.first_kv_head, r / 2);
  }
  EXPECT_EQ(rows, 509);
  EXPECT_EQ(decoder_shard(odd, 4, 3).vocab_rows(), 509 - 3 * 128);
  EXPECT_THROW(decoder_shard(odd, 3, 0), std::invalid_argument);
  // The memory model counts the same shard per GPU.
  const WeightBytes w = weight_bytes_per_gpu(d.model, DType::bf16, ParallelLayout{8, 1});
  EXPECT_EQ(w.lm_head, s.vocab_stride * d.model.hidden_size * 2);
}

TEST(ParallelModel, ARanksPartOfAnMoeLayerHoldsTheWholeLayersValues) {
  auto backend = make_backend(BackendKind::cpu);
  LayerSpec spec;
  spec.model = test_model(true);
  spec.seed = 11;
  const LayerWeightStore whole(*backend, spec);
  const ModelConfig& m = spec.model;
  const int64_t H = m.hidden_size, I = m.moe_intermediate_size, Is = m.shared_intermediate_size;
  // Rank 3 of tp 4, ep 2: experts 4..7, intermediate columns [32, 64) of each; the shared
  // expert's columns [72, 96) (tp's split over all 4 ranks).
  spec.parallel = {4, 2, 3, nullptr};
  const RankExperts held = tensor_parallel_experts(spec);
  ASSERT_EQ(held.routed_inter, (std::pair<int64_t, int64_t>{32, 64}));
  ASSERT_EQ(held.shared_inter, (std::pair<int64_t, int64_t>{72, 96}));
  const RankLayerWeightStore part(*backend, spec, held);
  const LayerWeights& p = part.view();
  const LayerWeights& w = whole.view();
  EXPECT_TRUE(p.rank_part);
  EXPECT_EQ(p.rank_routed_inter, 32);
  auto at = [](const void* base, int64_t i) { return static_cast<const uint16_t*>(base)[i]; };
  for (int e = 0; e < 4; ++e) {
    part.ensure(e);
    whole.ensure(4 + e);
    for (int64_t j = 0; j < 32; ++j)
      for (int64_t c = 0; c < H; c += 17) {
        ASSERT_EQ(at(p.w13, (e * 64 + j) * H + c), at(w.w13, ((4 + e) * 2 * I + 32 + j) * H + c));       // gate
        ASSERT_EQ(at(p.w13, (e * 64 + 32 + j) * H + c), at(w.w13, ((4 + e) * 2 * I + I + 32 + j) * H + c));  // up
      }
    for (int64_t r = 0; r < H; r += 13)
      for (int64_t j = 0; j < 32; ++j) ASSERT_EQ(at(p.w2, (e * H + r) * 32 + j), at(w.w2, ((4 + e) * H + r) * I + 32 + j));
  }
  for (int64_t j = 0; j < 24; ++j) {
    ASSERT_EQ(at(p.shared_w13, j * H + 5), at(w.shared_w13, (72 + j) * H + 5));
    ASSERT_EQ(at(p.shared_w13, (24 + j) * H + 5), at(w.shared_w13, (Is + 72 + j) * H + 5));
    ASSERT_EQ(at(p.shared_w2, 7 * 24 + j), at(w.shared_w2, 7 * Is + 72 + j));
  }
  for (int64_t c = 0; c < H; ++c) ASSERT_EQ(at(p.shared_gate, c), at(w.shared_gate, c));
  // A part other than the one a layer runs is refused: a one-rank tp layer runs whole experts.
  LayerSpec one = spec;
  one.parallel = MoeParallel{};
  one.max_tokens = 4;
  const RankLayerWeightStore half(*backend, one, RankExperts{{0, 32}, {0, Is}, 4});
  EXPECT_THROW(cpu_impl("tp").make(*backend)->prepare(one, half.view()), std::invalid_argument);
}
