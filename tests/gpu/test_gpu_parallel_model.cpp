// The decoder over tensor-parallel ranks on the GPU (model/decoder.hpp with an NCCL
// communicator): at world size 1 every collective of the parallel path runs (the vocabulary-
// parallel embedding's all-reduce, the row-parallel projections' fp32 all-reduces, the LM head's
// logits all-gather, the tp and ep MoE layers on the rank's part of each layer) and must compute
// what the one-device decoder computes with grouped: the same next tokens at most positions and
// logits within 2e-2, as the GPU decoder against the CPU's. Where two GPUs are visible, `moebench
// model --tp-size 2` through the binary, tp and ep, with one record whose ranks agree.
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "backend/cuda_backend.hpp"
#include "core/presets.hpp"
#include "dist/nccl_communicator.hpp"
#include "dist/rendezvous.hpp"
#include "gpu_test_util.hpp"
#include "model/decoder.hpp"
#include "model/model_weights.hpp"

namespace moebench {
namespace {

constexpr DType kDtype = DType::bf16;
constexpr int64_t kBatch = 4, kLen = 24, kContext = 32;

// The tiny preset cut to 2 layers (one dense, one MoE) on the GPU: one device with `impl`, or
// rank 0 of a world of one over `comm` with the rank layer `impl`.
struct Stack {
  std::unique_ptr<Backend> backend = make_backend(BackendKind::cuda);
  DecoderConfig config = make_decoder_config(load_preset("tiny"), 2, kDtype);
  DecoderLimits limits{kBatch, kLen, kContext, 8192};
  std::unique_ptr<Communicator> comm;
  std::unique_ptr<ModelWeights> weights;
  std::unique_ptr<MoeImpl> moe;
  std::unique_ptr<ModelOps> ops;
  std::unique_ptr<Decoder> decoder;
  std::unique_ptr<KvCache> cache;
  DeviceBuffer prompts;

  Stack(const std::string& impl, bool ranked, const std::vector<int32_t>& prompt) {
    const ImplInfo& info = *select_impls({impl}, BackendKind::cuda, 1).front();
    LayerSpec spec{config.model, kDtype, limits.max_step_rows(), layer_seed(3, 1)};
    if (ranked) {
      RendezvousOptions options;
      options.shared_blob = nccl_unique_id();
      comm = make_nccl_communicator(*Rendezvous::join(RankEnv{}, options), 0, cuda_stream(*backend));
      weights = std::make_unique<ModelWeights>(
          *backend, config, 3, ModelRank{decoder_shard(config, 1, 0), MoeParallel{1, 1, 0}, info.holds});
      spec.parallel = {1, 1, 0, comm.get()};
    } else {
      weights = std::make_unique<ModelWeights>(*backend, config, 3);
    }
    moe = info.make(*backend);
    moe->prepare(spec, weights->layer(1).experts->view());
    AttentionDims dims{int(kBatch), config.model.num_attention_heads, config.model.num_kv_heads,
                       config.model.head_dim, int(kContext), 1.0f / std::sqrt(float(config.model.head_dim))};
    ops = make_model_ops(*backend, kDtype, dims);
    DecoderRanks ranks;
    ranks.comm = comm.get();
    ranks.moe_token_slice = ranked && info.rank_tokens == RankTokens::token_slice;
    decoder = std::make_unique<Decoder>(*backend, config, *weights, *ops, moe.get(), limits, ranks);
    cache = std::make_unique<KvCache>(*backend, config, weights->shard(), kBatch, kContext);
    prompts = DeviceBuffer(*backend, prompt.size() * 4);
    backend->copy_to_device(prompts.get(), prompt.data(), prompt.size() * 4);
  }
  std::vector<int32_t> tokens() const {
    std::vector<int32_t> t(static_cast<size_t>(kBatch));
    if (comm) comm->synchronize();
    backend->copy_to_host(t.data(), decoder->tokens(), t.size() * 4);
    return t;
  }
  std::vector<float> logits() const {
    std::vector<float> l(static_cast<size_t>(kBatch * config.model.vocab_size));
    if (comm) comm->synchronize();
    backend->copy_to_host(l.data(), decoder->logits(), l.size() * 4);
    return l;
  }
};

double rel_error(const std::vector<float>& got, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += (double(got[i]) - ref[i]) * (double(got[i]) - ref[i]);
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / den);
}

std::vector<int32_t> prompts() {
  std::vector<int32_t> p(size_t(kBatch * kLen));
  for (size_t i = 0; i < p.size(); ++i) p[i] = int32_t((i * 131 + 7) % 512);
  return p;
}

TEST(GpuParallelModel, OneGpuOverNcclIsTheOneDeviceDecoder) {
  REQUIRE_GPU();
  const std::vector<int32_t> p = prompts();
  for (const char* impl : {"tp", "ep"}) {
    SCOPED_TRACE(impl);
    Stack one("grouped", false, p), ranked(impl, true, p);
    int same = 0, total = 0;
    for (Stack* s : {&one, &ranked}) {
      s->decoder->prefill(*s->cache, s->prompts.as<int32_t>(), kBatch, kLen);
      s->decoder->start_decode(kBatch, kLen);
    }
    for (int step = 0; step < 6; ++step) {
      EXPECT_LT(rel_error(ranked.logits(), one.logits()), 2e-2) << "step " << step;
      const std::vector<int32_t> a = ranked.tokens(), b = one.tokens();
      for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
      total += int(a.size());
      // Both continue from the one device's tokens, so a near tie once does not change every step after.
      ranked.backend->copy_to_device(const_cast<int32_t*>(ranked.decoder->tokens()), b.data(), b.size() * 4);
      for (Stack* s : {&one, &ranked}) s->decoder->decode_step(*s->cache, kBatch);
    }
    EXPECT_GE(same, total * 9 / 10) << same << " of " << total << " next tokens agree";
  }
}

TEST(GpuParallelModel, TwoGpusRunTheModelThroughTheBinary) {
  REQUIRE_GPU();
  if (cuda_device_count() < 2) GTEST_SKIP() << "fewer than 2 GPUs visible";
  for (const char* layout : {"--tp-size 2 --impl tp", "--tp-size 2 --ep-size 2 --impl ep"}) {
    SCOPED_TRACE(layout);
    const std::string command = fmt::format(
        "{} model --backend cuda --model tiny --batch-size 1,4 --input-len 32 --output-len 8 --no-record --quiet {} "
        "> /dev/null 2>&1",
        MOEBENCH_BINARY, layout);
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
  }
}

}  // namespace
}  // namespace moebench
