// The decoder ops on the CPU backend: the reference the CUDA ops are tested against. Plain
// loops over all hardware threads (parallel_for), fp32 accumulation in a fixed order, so
// results do not depend on the thread count; one rounding to the dtype per op.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/parallel.hpp"
#include "model/model_ops.hpp"
#include "moe/activation.hpp"

namespace moebench {

namespace {

constexpr int64_t kRowGrain = 16;

class CpuModelOps final : public ModelOps {
 public:
  explicit CpuModelOps(DType dtype) : dtype_(dtype) {}

  void embed(const int32_t* tokens, int64_t rows, const void* table, int64_t hidden, void* out) override {
    const auto* t = static_cast<const uint16_t*>(table);
    auto* o = static_cast<uint16_t*>(out);
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(o + r * hidden, t + int64_t(tokens[r]) * hidden, size_t(hidden) * sizeof(uint16_t));
  }

  void embed_vocab_rows(const int32_t* tokens, int64_t rows, const void* table, int64_t hidden, int64_t vocab_begin,
                        int64_t vocab_end, float* out) override {
    const auto* t = static_cast<const uint16_t*>(table);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t token = tokens[r];
      const bool held = token >= vocab_begin && token < vocab_end;
      for (int64_t c = 0; c < hidden; ++c)
        out[r * hidden + c] = held ? to_float(t[(token - vocab_begin) * hidden + c]) : 0.0f;
    }
  }

  void round_fp32(const float* x, int64_t count, void* out) override {
    auto* o = static_cast<uint16_t*>(out);
    parallel_for(count, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) o[i] = to_half(x[i]);
    }, 1 << 14);
  }

  void rms_norm(const void* x, const void* weight, int64_t rows, int64_t dim, float eps, void* out) override {
    const auto* in = static_cast<const uint16_t*>(x);
    const auto* w = static_cast<const uint16_t*>(weight);
    auto* o = static_cast<uint16_t*>(out);
    parallel_for(rows, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) norm_row(in + r * dim, w, dim, eps, o + r * dim);
    }, kRowGrain);
  }

  void linear(const void* x, const void* w, void* out, int64_t m, int64_t n, int64_t k, bool out_fp32) override {
    std::vector<float> xf(size_t(m * k));
    const auto* xb = static_cast<const uint16_t*>(x);
    for (size_t i = 0; i < xf.size(); ++i) xf[i] = to_float(xb[i]);
    const auto* wb = static_cast<const uint16_t*>(w);
    // Each weight row is converted once and used by every token.
    parallel_for(n, [&](int64_t begin, int64_t end) {
      std::vector<float> row(static_cast<size_t>(k));
      for (int64_t j = begin; j < end; ++j) {
        for (int64_t c = 0; c < k; ++c) row[size_t(c)] = to_float(wb[j * k + c]);
        for (int64_t i = 0; i < m; ++i) {
          const float* a = xf.data() + i * k;
          float acc = 0;
          for (int64_t c = 0; c < k; ++c) acc += a[c] * row[size_t(c)];
          if (out_fp32)
            static_cast<float*>(out)[i * n + j] = acc;
          else
            static_cast<uint16_t*>(out)[i * n + j] = to_half(acc);
        }
      }
    }, 4);
  }

  void add(void* h, const void* y, int64_t count) override {
    auto* a = static_cast<uint16_t*>(h);
    const auto* b = static_cast<const uint16_t*>(y);
    for (int64_t i = 0; i < count; ++i) a[i] = to_half(to_float(a[i]) + to_float(b[i]));
  }

  void gated_activation(Activation activation, const void* h, int64_t rows, int64_t inter, void* out) override {
    const auto* in = static_cast<const uint16_t*>(h);
    auto* o = static_cast<uint16_t*>(out);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < inter; ++c)
        o[r * inter + c] = to_half(moebench::gated_activation<float>(activation, to_float(in[r * 2 * inter + c]),
                                                                     to_float(in[r * 2 * inter + inter + c])));
  }

  void qkv_to_cache(const QkvToCacheArgs& a) override {
    const AttentionDims& d = a.dims;
    const int hd = d.head_dim, heads = d.num_heads, kv = d.num_kv_heads;
    const int64_t width = int64_t(heads + 2 * kv) * hd;
    const auto* qkv = static_cast<const uint16_t*>(a.qkv);
    parallel_for(a.rows, [&](int64_t begin, int64_t end) {
      std::vector<uint16_t> head(static_cast<size_t>(hd));
      for (int64_t t = begin; t < end; ++t) {
        const int64_t seq = t / a.tokens_per_seq;
        const int pos = (a.positions ? a.positions[seq] : 0) + a.start_pos + int(t % a.tokens_per_seq);
        const int64_t slot = (seq * d.max_context + pos) * kv;  // in heads of the cache
        for (int h = 0; h < heads + 2 * kv; ++h) {
          const uint16_t* src = qkv + t * width + int64_t(h) * hd;
          uint16_t* dst = h < heads       ? static_cast<uint16_t*>(a.q) + (t * heads + h) * hd
                          : h < heads + kv ? static_cast<uint16_t*>(a.k_cache) + (slot + h - heads) * hd
                                           : static_cast<uint16_t*>(a.v_cache) + (slot + h - heads - kv) * hd;
          if (h >= heads + kv) {  // v: as projected
            std::memcpy(dst, src, size_t(hd) * sizeof(uint16_t));
            continue;
          }
          const void* norm = h < heads ? a.q_norm : a.k_norm;
          if (norm) {
            norm_row(src, static_cast<const uint16_t*>(norm), hd, a.eps, head.data());
            src = head.data();
          }
          rope(src, pos, hd, a.rope_theta, dst);
        }
      }
    }, 1);
  }

  void attention_prefill(const void* q, const void* k_cache, const void* v_cache, void* out, const AttentionDims& d,
                         int q_len, int start_pos) override {
    parallel_for(int64_t(d.batch) * d.num_heads * q_len, [&](int64_t begin, int64_t end) {
      std::vector<float> scores;
      for (int64_t u = begin; u < end; ++u) {
        const int i = int(u % q_len), h = int(u / q_len % d.num_heads), b = int(u / q_len / d.num_heads);
        const int64_t row = (int64_t(b) * q_len + i) * d.num_heads + h;
        attend(q, k_cache, v_cache, out, d, b, h, row, start_pos + i + 1, scores);
      }
    }, 1);
  }

  void attention_decode(const void* q, const void* k_cache, const void* v_cache, void* out,
                        const int32_t* context_lens, const AttentionDims& d) override {
    parallel_for(int64_t(d.batch) * d.num_heads, [&](int64_t begin, int64_t end) {
      std::vector<float> scores;
      for (int64_t u = begin; u < end; ++u) {
        const int h = int(u % d.num_heads), b = int(u / d.num_heads);
        attend(q, k_cache, v_cache, out, d, b, h, int64_t(b) * d.num_heads + h, context_lens[b], scores);
      }
    }, 1);
  }

  void last_token_rows(const void* x, int64_t batch, int64_t len, int64_t hidden, void* out) override {
    for (int64_t b = 0; b < batch; ++b)
      std::memcpy(static_cast<uint16_t*>(out) + b * hidden,
                  static_cast<const uint16_t*>(x) + (b * len + len - 1) * hidden, size_t(hidden) * sizeof(uint16_t));
  }

  void argmax(const float* logits, int64_t rows, int64_t vocab, int32_t* out) override {
    for (int64_t r = 0; r < rows; ++r) {
      int64_t best = 0;
      float best_v = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < vocab; ++i) {
        const float v = logits[r * vocab + i];
        if (v > best_v) {  // strict: ties keep the lower index, NaN never wins
          best_v = v;
          best = i;
        }
      }
      out[r] = int32_t(best);
    }
  }

  void advance_positions(int32_t* positions, int32_t* context_lens, int64_t batch) override {
    for (int64_t b = 0; b < batch; ++b) context_lens[b] = ++positions[b] + 1;
  }

 private:
  float to_float(uint16_t bits) const { return half_bits_to_float(bits, dtype_); }
  uint16_t to_half(float v) const { return float_to_half_bits(v, dtype_); }

  void norm_row(const uint16_t* x, const uint16_t* w, int64_t dim, float eps, uint16_t* out) const {
    float ss = 0;
    for (int64_t c = 0; c < dim; ++c) ss += to_float(x[c]) * to_float(x[c]);
    const float r = 1.0f / std::sqrt(ss / float(dim) + eps);
    for (int64_t c = 0; c < dim; ++c) out[c] = to_half(to_float(x[c]) * r * to_float(w[c]));
  }

  // Rotates pairs (i, i + head_dim / 2), as Hugging Face's rotate_half.
  void rope(const uint16_t* x, int pos, int hd, float theta, uint16_t* out) const {
    const int half = hd / 2;
    for (int i = 0; i < half; ++i) {
      const float angle = rope_angle(pos, i, hd, theta), c = std::cos(angle), s = std::sin(angle);
      const float x1 = to_float(x[i]), x2 = to_float(x[i + half]);
      out[i] = to_half(x1 * c - x2 * s);
      out[i + half] = to_half(x2 * c + x1 * s);
    }
  }

  // Output row `row` (of heads) = softmax(q . K[0..keys) * scale) . V[0..keys) of sequence b,
  // query head h, which reads KV head h / (heads / kv_heads).
  void attend(const void* q, const void* k_cache, const void* v_cache, void* out, const AttentionDims& d, int b,
              int h, int64_t row, int keys, std::vector<float>& scores) const {
    const int hd = d.head_dim, kvh = h / (d.num_heads / d.num_kv_heads);
    const auto* qr = static_cast<const uint16_t*>(q) + row * hd;
    const auto* kc = static_cast<const uint16_t*>(k_cache);
    const auto* vc = static_cast<const uint16_t*>(v_cache);
    // Keys [first, keys): all positions up to the query's, or its sliding window of them.
    const int first = d.window > 0 ? std::max(0, keys - d.window) : 0;
    auto slot = [&](int p) { return ((int64_t(b) * d.max_context + p) * d.num_kv_heads + kvh) * hd; };
    scores.assign(size_t(keys - first), 0.0f);
    float max_score = -std::numeric_limits<float>::infinity();
    for (int p = first; p < keys; ++p) {
      float dot = 0;
      for (int c = 0; c < hd; ++c) dot += to_float(qr[c]) * to_float(kc[slot(p) + c]);
      scores[size_t(p - first)] = dot * d.softmax_scale;
      max_score = std::max(max_score, scores[size_t(p - first)]);
    }
    float sum = 0;
    for (float& s : scores) sum += (s = std::exp(s - max_score));
    auto* o = static_cast<uint16_t*>(out) + row * hd;
    for (int c = 0; c < hd; ++c) {
      float acc = 0;
      for (int p = first; p < keys; ++p) acc += scores[size_t(p - first)] * to_float(vc[slot(p) + c]);
      o[c] = to_half(acc / sum);
    }
  }

  DType dtype_;
};

}  // namespace

std::unique_ptr<ModelOps> make_cpu_model_ops(DType dtype) { return std::make_unique<CpuModelOps>(dtype); }

}  // namespace moebench
