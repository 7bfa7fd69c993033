// The decoder stack on the GPU against the CPU reference: every CUDA op on fresh random inputs
// (relative error < 2e-2), a 2-layer tiny model (same next tokens at most positions, close
// logits), and a decode step replayed from a CUDA graph against the same step run eagerly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "core/presets.hpp"
#include "core/synthetic.hpp"
#include "gpu_test_util.hpp"
#include "model/decoder.hpp"
#include "model/model_weights.hpp"
#include "moe/cuda/skinny_gemm.cuh"
#include "backend/cuda_backend.hpp"

namespace moebench {
namespace {

constexpr DType kDtype = DType::bf16;

// A tensor on the host (the CPU backend's memory) and its copy on the GPU.
struct Pair {
  std::vector<uint8_t> host;
  DeviceBuffer dev;
  Pair(Backend& gpu, size_t bytes) : host(bytes, 0), dev(gpu, bytes) {}
  void upload(Backend& gpu) { gpu.copy_to_device(dev.get(), host.data(), host.size()); }
  template <typename T>
  std::vector<T> download(Backend& gpu) const {
    std::vector<T> out(host.size() / sizeof(T));
    gpu.copy_to_host(out.data(), dev.get(), host.size());
    return out;
  }
  template <typename T>
  std::vector<T> on_host() const {
    return std::vector<T>(reinterpret_cast<const T*>(host.data()), reinterpret_cast<const T*>(host.data()) + host.size() / sizeof(T));
  }
};

// Random bf16 values, uniform with the given scale, on both sides.
Pair random_pair(Backend& gpu, size_t count, uint64_t stream, float scale = 1.0f) {
  Pair p(gpu, count * 2);
  auto* h = reinterpret_cast<uint16_t*>(p.host.data());
  for (size_t i = 0; i < count; ++i) h[i] = float_to_half_bits(synth_value(99, stream, i, scale), kDtype);
  p.upload(gpu);
  return p;
}

Pair output_pair(Backend& gpu, size_t bytes) {
  Pair p(gpu, bytes);
  std::fill(p.host.begin(), p.host.end(), uint8_t(0xFF));  // poison: unwritten elements show
  p.upload(gpu);
  return p;
}

double rel_error(const std::vector<float>& got, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += (double(got[i]) - ref[i]) * (double(got[i]) - ref[i]);
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / den);
}

std::vector<float> as_floats(const std::vector<uint16_t>& bits) {
  std::vector<float> out;
  for (uint16_t b : bits) out.push_back(half_bits_to_float(b, kDtype));
  return out;
}

void expect_close(const Pair& out, Backend& gpu, const char* what, bool fp32 = false) {
  const double err = fp32 ? rel_error(out.download<float>(gpu), out.on_host<float>())
                          : rel_error(as_floats(out.download<uint16_t>(gpu)), as_floats(out.on_host<uint16_t>()));
  EXPECT_LT(err, 2e-2) << what;
}

struct OpsPair {
  std::unique_ptr<Backend> gpu = make_backend(BackendKind::cuda);
  std::unique_ptr<Backend> cpu = make_backend(BackendKind::cpu);
  std::unique_ptr<ModelOps> gpu_ops, cpu_ops;
  explicit OpsPair(const AttentionDims& dims) {
    gpu_ops = make_model_ops(*gpu, kDtype, dims);
    cpu_ops = make_model_ops(*cpu, kDtype, dims);
  }
};

TEST(GpuModelOps, DenseOpsMatchTheCpu) {
  REQUIRE_GPU();
  OpsPair o(AttentionDims{});
  Backend& g = *o.gpu;
  const int64_t M = 37, N = 200, K = 256, V = 1000, I = 96;
  Pair x = random_pair(g, M * K, 1), w = random_pair(g, N * K, 2, 0.1f), norm_w = random_pair(g, K, 3);
  Pair y = output_pair(g, M * N * 2), y32 = output_pair(g, M * N * 4), normed = output_pair(g, M * K * 2);
  o.gpu_ops->linear(x.dev.get(), w.dev.get(), y.dev.get(), M, N, K);
  o.cpu_ops->linear(x.host.data(), w.host.data(), y.host.data(), M, N, K);
  o.gpu_ops->linear(x.dev.get(), w.dev.get(), y32.dev.get(), M, N, K, true);
  o.cpu_ops->linear(x.host.data(), w.host.data(), y32.host.data(), M, N, K, true);
  o.gpu_ops->rms_norm(x.dev.get(), norm_w.dev.get(), M, K, 1e-6f, normed.dev.get());
  o.cpu_ops->rms_norm(x.host.data(), norm_w.host.data(), M, K, 1e-6f, normed.host.data());
  Pair h = random_pair(g, M * K, 4), add_to = random_pair(g, M * K, 5);
  o.gpu_ops->add(add_to.dev.get(), h.dev.get(), M * K);
  o.cpu_ops->add(add_to.host.data(), h.host.data(), M * K);
  Pair gu = random_pair(g, M * 2 * I, 6), act = output_pair(g, M * I * 2);
  o.gpu_ops->gated_activation(Activation::silu, gu.dev.get(), M, I, act.dev.get());
  o.cpu_ops->gated_activation(Activation::silu, gu.host.data(), M, I, act.host.data());

  Pair tokens(g, 5 * 4), table = random_pair(g, V * K, 7), embedded = output_pair(g, 5 * K * 2);
  auto* t = reinterpret_cast<int32_t*>(tokens.host.data());
  for (int i = 0; i < 5; ++i) t[i] = int32_t((i * 389 + 17) % V);
  tokens.upload(g);
  o.gpu_ops->embed(static_cast<const int32_t*>(tokens.dev.get()), 5, table.dev.get(), K, embedded.dev.get());
  o.cpu_ops->embed(t, 5, table.host.data(), K, embedded.host.data());
  Pair last = output_pair(g, 3 * K * 2);
  o.gpu_ops->last_token_rows(x.dev.get(), 3, 12, K, last.dev.get());
  o.cpu_ops->last_token_rows(x.host.data(), 3, 12, K, last.host.data());
  Pair best(g, M * 4);
  o.gpu_ops->argmax(y32.dev.as<float>(), M, N, best.dev.as<int32_t>());
  o.cpu_ops->argmax(reinterpret_cast<float*>(y32.host.data()), M, N, reinterpret_cast<int32_t*>(best.host.data()));
  g.synchronize();

  expect_close(y, g, "linear");
  expect_close(y32, g, "linear fp32", true);
  expect_close(normed, g, "rms_norm");
  expect_close(add_to, g, "add");
  expect_close(act, g, "gated_activation");
  EXPECT_EQ(embedded.download<uint16_t>(g), embedded.on_host<uint16_t>()) << "embed";
  EXPECT_EQ(last.download<uint16_t>(g), last.on_host<uint16_t>()) << "last_token_rows";
  // The GPU's own fp32 logits decide its argmax: compare against the CPU's argmax of those.
  std::vector<float> gpu_logits = y32.download<float>(g);
  std::vector<int32_t> expected(M);
  o.cpu_ops->argmax(gpu_logits.data(), M, N, expected.data());
  EXPECT_EQ(best.download<int32_t>(g), expected) << "argmax";
}

// argmax against the CPU where the GPU splits rows into slices (a few rows of a large
// vocabulary) and where it does not (more rows than the largest batch): the maximum planted twice
// in different slices (the lower index wins), NaNs that must never win, a row of -inf only.
TEST(GpuModelOps, ArgmaxOverSlicesMatchesTheCpu) {
  REQUIRE_GPU();
  OpsPair o(AttentionDims{4, 8, 2, 128, 64, 0.1f});  // batch 4: room for the partials of up to 4 rows
  Backend& g = *o.gpu;
  for (int64_t vocab : {151936, 1000, 33})
    for (int64_t rows : {1, 3, 4, 6}) {
      SCOPED_TRACE(::testing::Message() << "vocab " << vocab << " rows " << rows);
      Pair logits(g, size_t(rows * vocab) * 4);
      auto* l = reinterpret_cast<float*>(logits.host.data());
      for (int64_t i = 0; i < rows * vocab; ++i) l[i] = synth_value(99, 80, uint64_t(i), 4.0f);
      for (int64_t r = 0; r < rows; ++r) {
        float* row = l + r * vocab;
        row[(r * 7919) % vocab] = NAN;
        if (r == 2) {
          std::fill(row, row + vocab, -INFINITY);
          continue;
        }
        const int64_t first = (vocab / 3 + r * 31) % vocab, second = std::min(vocab - 1, first + vocab / 2 + 1);
        row[first] = row[second] = 100.0f;
        row[vocab - 1] = std::max(row[vocab - 1], 99.0f);
      }
      logits.upload(g);
      Pair best(g, size_t(rows) * 4);
      o.gpu_ops->argmax(logits.dev.as<float>(), rows, vocab, best.dev.as<int32_t>());
      o.cpu_ops->argmax(l, rows, vocab, reinterpret_cast<int32_t*>(best.host.data()));
      g.synchronize();
      EXPECT_EQ(best.download<int32_t>(g), best.on_host<int32_t>());
    }
}

// rms_norm and add_rms_norm at row lengths that take every path of the kernel: vectors of 8 and
// of 1 element, fewer vectors than threads, one per thread, up to the 4 a thread keeps in
// registers, and more. The residual add is elementwise: bit for bit against the CPU.
TEST(GpuModelOps, NormsMatchTheCpuAtEveryRowLength) {
  REQUIRE_GPU();
  OpsPair o(AttentionDims{});
  Backend& g = *o.gpu;
  const int64_t M = 3;
  for (int64_t K : {256, 1000, 2048, 7168, 9216, 1001, 1500}) {
    SCOPED_TRACE(K);
    Pair x = random_pair(g, M * K, 70), nw = random_pair(g, K, 71), y = random_pair(g, M * K, 72);
    Pair h = random_pair(g, M * K, 73);
    Pair normed = output_pair(g, M * K * 2), added = output_pair(g, M * K * 2);
    o.gpu_ops->rms_norm(x.dev.get(), nw.dev.get(), M, K, 1e-6f, normed.dev.get());
    o.cpu_ops->rms_norm(x.host.data(), nw.host.data(), M, K, 1e-6f, normed.host.data());
    o.gpu_ops->add_rms_norm(h.dev.get(), y.dev.get(), nw.dev.get(), M, K, 1e-6f, added.dev.get());
    o.cpu_ops->add_rms_norm(h.host.data(), y.host.data(), nw.host.data(), M, K, 1e-6f, added.host.data());
    g.synchronize();
    expect_close(normed, g, "rms_norm");
    expect_close(added, g, "add_rms_norm");
    EXPECT_EQ(h.download<uint16_t>(g), h.on_host<uint16_t>()) << "residual h + y";
    EXPECT_EQ(x.download<uint16_t>(g), x.on_host<uint16_t>()) << "rms_norm leaves its input alone";
  }
}

// linear() of 1 and 2 rows goes through the skinny GEMM, of 3 and more through cuBLAS: N with a
// partial last block for both block shapes (2 rows for N below 1024, 8 above); K below, at and above the
// 256 vectors a block covers at once; bf16 and fp32 outputs; and the fp32 accumulate that shared
// experts use.
TEST(GpuModelOps, SkinnyLinearMatchesTheCpu) {
  REQUIRE_GPU();
  OpsPair o(AttentionDims{});
  Backend& g = *o.gpu;
  for (int64_t M : {1, 2, 3, 8})
    for (int64_t N : {5, 1030, 4100})
      for (int64_t K : {8, 776, 2048, 4104}) {
        SCOPED_TRACE(::testing::Message() << "M=" << M << " N=" << N << " K=" << K);
        Pair x = random_pair(g, M * K, 10 + M), w = random_pair(g, N * K, 20 + N, 0.1f);
        Pair y = output_pair(g, M * N * 2), y32 = output_pair(g, M * N * 4);
        o.gpu_ops->linear(x.dev.get(), w.dev.get(), y.dev.get(), M, N, K);
        o.cpu_ops->linear(x.host.data(), w.host.data(), y.host.data(), M, N, K);
        o.gpu_ops->linear(x.dev.get(), w.dev.get(), y32.dev.get(), M, N, K, true);
        o.cpu_ops->linear(x.host.data(), w.host.data(), y32.host.data(), M, N, K, true);
        g.synchronize();
        EXPECT_LT(rel_error(as_floats(y.download<uint16_t>(g)), as_floats(y.on_host<uint16_t>())), 1e-2);
        EXPECT_LT(rel_error(y32.download<float>(g), y32.on_host<float>()), 1e-4);
        EXPECT_EQ(skinny_gemm_applies(x.dev.get(), w.dev.get(), M, K, kDtype, true, 1.0f), M <= kSkinnyMaxRows);
        if (M > kSkinnyMaxRows) continue;
        // out += x . w^T on top of the fp32 result: twice the product.
        skinny_gemm(x.dev.get(), w.dev.get(), y32.dev.get(), M, N, K, kDtype, true, /*accumulate=*/true,
                    cuda_stream(g));
        std::vector<float> twice = y32.on_host<float>();
        for (float& v : twice) v *= 2;
        EXPECT_LT(rel_error(y32.download<float>(g), twice), 1e-4) << "accumulate";
      }
}

// QK-norm, RoPE and the cache write, then prefill and decode attention, at head_dim 64 and 128.
TEST(GpuModelOps, AttentionPathMatchesTheCpu) {
  REQUIRE_GPU();
  for (int hd : {64, 128}) {
    SCOPED_TRACE(hd);
    AttentionDims d{3, 8, 2, hd, 40, 1.0f / std::sqrt(float(hd))};
    OpsPair o(d);
    Backend& g = *o.gpu;
    const int L = 21, width = (d.num_heads + 2 * d.num_kv_heads) * hd;
    const size_t cache_elems = size_t(d.batch) * d.max_context * d.num_kv_heads * hd;
    Pair qkv = random_pair(g, size_t(d.batch) * L * width, 11), qn = random_pair(g, hd, 12), kn = random_pair(g, hd, 13);
    Pair q = output_pair(g, size_t(d.batch) * L * d.num_heads * hd * 2);
    Pair k_cache = random_pair(g, cache_elems, 14), v_cache = random_pair(g, cache_elems, 15);
    QkvToCacheArgs a;
    a.q_norm = nullptr;
    a.rows = d.batch * L;
    a.tokens_per_seq = L;
    a.start_pos = 0;
    a.rope_theta = 1e6f;
    a.dims = d;
    auto both = [&](QkvToCacheArgs args) {
      QkvToCacheArgs h = args;
      args.qkv = qkv.dev.get(), args.q = q.dev.get(), args.k_cache = k_cache.dev.get(), args.v_cache = v_cache.dev.get();
      args.q_norm = qn.dev.get(), args.k_norm = kn.dev.get();
      h.qkv = qkv.host.data(), h.q = q.host.data(), h.k_cache = k_cache.host.data(), h.v_cache = v_cache.host.data();
      h.q_norm = qn.host.data(), h.k_norm = kn.host.data();
      o.gpu_ops->qkv_to_cache(args);
      o.cpu_ops->qkv_to_cache(h);
    };
    both(a);
    Pair out = output_pair(g, q.host.size());
    o.gpu_ops->attention_prefill(q.dev.get(), k_cache.dev.get(), v_cache.dev.get(), out.dev.get(), d, L, 0);
    o.cpu_ops->attention_prefill(q.host.data(), k_cache.host.data(), v_cache.host.data(), out.host.data(), d, L, 0);
    g.synchronize();
    expect_close(q, g, "qkv_to_cache: q");
    expect_close(k_cache, g, "qkv_to_cache: k cache");
    expect_close(v_cache, g, "qkv_to_cache: v cache");
    expect_close(out, g, "attention_prefill");

    // Decode: one token per sequence at per-sequence positions held on the device.
    Pair positions(g, d.batch * 4), context(g, d.batch * 4);
    auto* pos = reinterpret_cast<int32_t*>(positions.host.data());
    auto* ctx = reinterpret_cast<int32_t*>(context.host.data());
    for (int b = 0; b < d.batch; ++b) ctx[b] = (pos[b] = L + 3 * b) + 1;
    positions.upload(g);
    context.upload(g);
    Pair qkv1 = random_pair(g, size_t(d.batch) * width, 16), q1 = output_pair(g, size_t(d.batch) * d.num_heads * hd * 2);
    QkvToCacheArgs dec = a;
    dec.rows = d.batch;
    dec.tokens_per_seq = 1;
    QkvToCacheArgs dh = dec;
    dec.qkv = qkv1.dev.get(), dec.q = q1.dev.get(), dec.k_cache = k_cache.dev.get(), dec.v_cache = v_cache.dev.get();
    dec.positions = positions.dev.as<int32_t>();
    dh.qkv = qkv1.host.data(), dh.q = q1.host.data(), dh.k_cache = k_cache.host.data(), dh.v_cache = v_cache.host.data();
    dh.positions = pos;
    o.gpu_ops->qkv_to_cache(dec);
    o.cpu_ops->qkv_to_cache(dh);
    Pair out1 = output_pair(g, q1.host.size());
    o.gpu_ops->attention_decode(q1.dev.get(), k_cache.dev.get(), v_cache.dev.get(), out1.dev.get(),
                                context.dev.as<int32_t>(), d);
    o.cpu_ops->attention_decode(q1.host.data(), k_cache.host.data(), v_cache.host.data(), out1.host.data(), ctx, d);
    o.gpu_ops->advance_positions(positions.dev.as<int32_t>(), context.dev.as<int32_t>(), d.batch);
    o.cpu_ops->advance_positions(pos, ctx, d.batch);
    g.synchronize();
    expect_close(k_cache, g, "decode: k cache");
    expect_close(out1, g, "attention_decode");
    EXPECT_EQ(positions.download<int32_t>(g), positions.on_host<int32_t>());
    EXPECT_EQ(context.download<int32_t>(g), context.on_host<int32_t>());
  }
}

// The decode attention from the projection (CUDA: the QK-norm, RoPE and cache write inside the
// decode kernels) against the CPU's qkv_to_cache + attention_decode: outputs, and the new keys
// and values in the cache compared position by position (a wrong slot would vanish in an error
// over the whole cache). Shapes: one chunk; 4 chunks with two CTAs per kv head (group 32);
// head_dim 64; with and without QK-norm; new positions inside, at the start of and at the end
// of chunks.
TEST(GpuModelOps, FusedDecodeAttentionMatchesTheCpu) {
  REQUIRE_GPU();
  const AttentionDims shapes[] = {{3, 8, 2, 128, 40, 0}, {2, 64, 2, 128, 1100, 0}, {3, 16, 4, 64, 700, 0}};
  for (AttentionDims d : shapes) {
    d.softmax_scale = 1.0f / std::sqrt(float(d.head_dim));
    for (bool qk_norm : {true, false}) {
      SCOPED_TRACE(::testing::Message() << "heads " << d.num_heads << "/" << d.num_kv_heads << " hd " << d.head_dim
                                      << " max_context " << d.max_context << " qk_norm " << qk_norm);
      OpsPair o(d);
      Backend& g = *o.gpu;
      const int hd = d.head_dim, width = (d.num_heads + 2 * d.num_kv_heads) * hd;
      const size_t cache_elems = size_t(d.batch) * d.max_context * d.num_kv_heads * hd;
      Pair k_cache = random_pair(g, cache_elems, 21), v_cache = random_pair(g, cache_elems, 22);
      Pair qkv = random_pair(g, size_t(d.batch) * width, 23), qn = random_pair(g, hd, 24), kn = random_pair(g, hd, 25);
      Pair q = output_pair(g, size_t(d.batch) * d.num_heads * hd * 2), out = output_pair(g, q.host.size());
      Pair positions(g, d.batch * 4), context(g, d.batch * 4);
      auto* pos = reinterpret_cast<int32_t*>(positions.host.data());
      auto* ctx = reinterpret_cast<int32_t*>(context.host.data());
      // The last position, one past a 64-key tile and the first one (a context of 1).
      const int picks[3] = {d.max_context - 1, std::min(d.max_context - 1, 320), 0};
      for (int b = 0; b < d.batch; ++b) ctx[b] = (pos[b] = picks[b % 3]) + 1;
      positions.upload(g);
      context.upload(g);
      QkvToCacheArgs a;
      a.rows = d.batch;
      a.rope_theta = 1e6f;
      a.dims = d;
      QkvToCacheArgs h = a;
      a.qkv = qkv.dev.get(), a.q = q.dev.get(), a.k_cache = k_cache.dev.get(), a.v_cache = v_cache.dev.get();
      a.positions = positions.dev.as<int32_t>();
      h.qkv = qkv.host.data(), h.q = q.host.data(), h.k_cache = k_cache.host.data(), h.v_cache = v_cache.host.data();
      h.positions = pos;
      if (qk_norm) {
        a.q_norm = qn.dev.get(), a.k_norm = kn.dev.get();
        h.q_norm = qn.host.data(), h.k_norm = kn.host.data();
      }
      o.gpu_ops->qkv_attention_decode(a, context.dev.as<int32_t>(), out.dev.get());
      o.cpu_ops->qkv_attention_decode(h, ctx, out.host.data());
      g.synchronize();
      expect_close(out, g, "attention output");
      const std::vector<uint16_t> k_got = k_cache.download<uint16_t>(g), v_got = v_cache.download<uint16_t>(g);
      const std::vector<uint16_t> k_want = k_cache.on_host<uint16_t>(), v_want = v_cache.on_host<uint16_t>();
      for (int b = 0; b < d.batch; ++b) {
        const size_t first = (size_t(b) * d.max_context + size_t(pos[b])) * d.num_kv_heads * hd;
        const size_t n = size_t(d.num_kv_heads) * hd;
        auto slice = [&](const std::vector<uint16_t>& v) {
          return as_floats(std::vector<uint16_t>(v.begin() + long(first), v.begin() + long(first + n)));
        };
        EXPECT_LT(rel_error(slice(k_got), slice(k_want)), 1e-2) << "new key, sequence " << b;
        EXPECT_EQ(v_got.size(), v_want.size());
        EXPECT_TRUE(std::equal(v_got.begin() + long(first), v_got.begin() + long(first + n), v_want.begin() + long(first)))
            << "new value, sequence " << b;
      }
    }
  }
}

// The tiny preset cut to 2 layers (one dense, one MoE) on a backend.
struct TinyStack {
  std::unique_ptr<Backend> backend;
  DecoderConfig config = make_decoder_config(load_preset("tiny"), 2, kDtype);
  DecoderLimits limits{4, 24, 32, 8192};
  std::unique_ptr<ModelWeights> weights;
  std::unique_ptr<MoeImpl> moe;
  std::unique_ptr<ModelOps> ops;
  std::unique_ptr<Decoder> decoder;
  std::unique_ptr<KvCache> cache;
  DeviceBuffer prompts;

  TinyStack(BackendKind kind, const std::string& impl, const std::vector<int32_t>& prompt) {
    backend = make_backend(kind);
    weights = std::make_unique<ModelWeights>(*backend, config, 3);
    moe = select_impls({impl}, kind).front()->make(*backend);
    LayerSpec spec{config.model, kDtype, limits.max_step_rows(), layer_seed(3, 1)};
    moe->prepare(spec, weights->layer(1).experts->view());
    AttentionDims dims{int(limits.max_batch), config.model.num_attention_heads, config.model.num_kv_heads,
                       config.model.head_dim, int(limits.max_context), 1.0f / std::sqrt(float(config.model.head_dim))};
    ops = make_model_ops(*backend, kDtype, dims);
    decoder = std::make_unique<Decoder>(*backend, config, *weights, *ops, moe.get(), limits);
    cache = std::make_unique<KvCache>(*backend, config, limits.max_batch, limits.max_context);
    prompts = DeviceBuffer(*backend, prompt.size() * 4);
    backend->copy_to_device(prompts.get(), prompt.data(), prompt.size() * 4);
  }
  std::vector<int32_t> tokens() const {
    std::vector<int32_t> t(size_t(limits.max_batch));
    backend->copy_to_host(t.data(), decoder->tokens(), t.size() * 4);
    return t;
  }
  std::vector<float> logits() const {
    std::vector<float> l(size_t(limits.max_batch * config.model.vocab_size));
    backend->copy_to_host(l.data(), decoder->logits(), l.size() * 4);
    return l;
  }
};

std::vector<int32_t> tiny_prompts() {
  std::vector<int32_t> p(4 * 24);
  for (size_t i = 0; i < p.size(); ++i) p[i] = int32_t((i * 131 + 7) % 512);
  return p;
}

TEST(GpuModel, TwoLayerTinyModelMatchesTheCpu) {
  REQUIRE_GPU();
  const std::vector<int32_t> p = tiny_prompts();
  TinyStack gpu(BackendKind::cuda, "grouped", p), cpu(BackendKind::cpu, "reference", p);
  int same = 0, total = 0;
  for (TinyStack* s : {&gpu, &cpu}) {
    s->decoder->prefill(*s->cache, s->prompts.as<int32_t>(), 4, 24);
    s->decoder->start_decode(4, 24);
  }
  for (int step = 0; step < 6; ++step) {
    EXPECT_LT(rel_error(gpu.logits(), cpu.logits()), 2e-2) << "step " << step;
    const std::vector<int32_t> a = gpu.tokens(), b = cpu.tokens();
    for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
    total += int(a.size());
    // Both continue from the CPU's tokens, so a near-tie once does not change every step after.
    gpu.backend->copy_to_device(const_cast<int32_t*>(gpu.decoder->tokens()), b.data(), b.size() * 4);
    for (TinyStack* s : {&gpu, &cpu}) s->decoder->decode_step(*s->cache, 4);
  }
  EXPECT_GE(same, total * 9 / 10) << same << " of " << total << " next tokens agree";
}

TEST(GpuModel, GraphReplayEqualsEagerDecode) {
  REQUIRE_GPU();
  const std::vector<int32_t> p = tiny_prompts();
  TinyStack eager(BackendKind::cuda, "grouped", p), replayed(BackendKind::cuda, "grouped", p);
  ASSERT_TRUE(replayed.moe->recordable(4));
  replayed.decoder->start_decode(4, 24);
  replayed.decoder->decode_step(*replayed.cache, 4);  // prime outside the capture, as the runner does
  std::unique_ptr<RecordedWork> graph =
      replayed.backend->record([&] { replayed.decoder->decode_step(*replayed.cache, 4); });
  ASSERT_TRUE(graph);
  for (TinyStack* s : {&eager, &replayed}) {
    s->decoder->prefill(*s->cache, s->prompts.as<int32_t>(), 4, 24);
    s->decoder->start_decode(4, 24);
  }
  for (int step = 0; step < 5; ++step) {
    eager.decoder->decode_step(*eager.cache, 4);
    graph->replay();
    EXPECT_EQ(eager.tokens(), replayed.tokens()) << "step " << step;
    EXPECT_LT(rel_error(replayed.logits(), eager.logits()), 1e-3) << "step " << step;
  }
}

}  // namespace
}  // namespace moebench
