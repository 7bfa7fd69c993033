#pragma once
// Small MoE layers on the CPU backend for unit tests, and the plainest possible fp64 forward
// to hold implementations against: one token at a time, one dot product at a time.
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.hpp"
#include "moe/activation.hpp"
#include "moe/layer_weights.hpp"
#include "moe/moe_impl.hpp"
#include "routing/routing.hpp"
#include "routing/scenarios.hpp"

namespace moebench::testing {

// Mixtral-like: softmax top-2 of 8. Sizes that are not multiples of the CPU kernel's panels.
inline ModelConfig tiny_softmax_model(Activation act = Activation::silu) {
  ModelConfig m;
  m.name = "tiny-softmax";
  m.hidden_size = 68;
  m.moe_intermediate_size = 90;
  m.num_experts = 8;
  m.top_k = 2;
  m.activation = act;
  m.validate(/*layer_only=*/true);
  return m;
}

// DeepSeek-V3-like: sigmoid scoring with bias, 4 groups of 4 keeping 2, top-4, scaled
// weights, one shared expert.
inline ModelConfig tiny_grouped_model() {
  ModelConfig m;
  m.name = "tiny-grouped";
  m.hidden_size = 64;
  m.moe_intermediate_size = 40;
  m.num_experts = 16;
  m.top_k = 4;
  m.scoring = ScoringFunc::sigmoid;
  m.n_group = 4;
  m.topk_group = 2;
  m.score_correction_bias = true;
  m.routed_scaling_factor = 2.5;
  m.num_shared_experts = 1;
  m.shared_intermediate_size = 52;
  m.validate(/*layer_only=*/true);
  return m;
}

// One layer's weights and one batch of inputs on the CPU backend.
struct LayerFixture {
  std::unique_ptr<Backend> backend = make_backend(BackendKind::cpu);
  LayerSpec spec;
  std::unique_ptr<LayerWeightStore> store;
  std::vector<uint16_t> x;
  std::vector<float> logits;
  int64_t tokens = 0;

  LayerFixture(const ModelConfig& model, DType dtype, int64_t num_tokens, uint64_t seed = 7,
               Scenario scenario = Scenario::random, Fp8Scaling fp8_scaling = Fp8Scaling::block)
      : tokens(num_tokens) {
    spec.model = model;
    spec.dtype = dtype;
    spec.fp8_scaling = fp8_scaling;
    spec.max_tokens = num_tokens;
    spec.seed = seed;
    store = std::make_unique<LayerWeightStore>(*backend, spec);
    x.resize(size_t(num_tokens * model.hidden_size));
    backend->fill_synthetic(x.data(), activation_dtype(dtype), x.size(), seed, hidden_states_stream(0), 0,
                            hidden_states_scale());
    logits = scenario_logits(model, scenario, num_tokens, 2.0, seed);
  }

  const LayerWeights& weights() const { return store->view(); }
  std::vector<float> bias() const { return score_bias_values(spec.model, spec.seed); }

  // Runs the "reference" implementation on an output poisoned with 0xFF bytes.
  std::vector<uint16_t> run_reference() const {
    std::unique_ptr<MoeImpl> impl = select_impls({"reference"}, BackendKind::cpu).front()->make(*backend);
    impl->prepare(spec, weights());
    std::vector<uint16_t> out(x.size(), 0xFFFF);
    LayerArgs args;
    args.x = x.data();
    args.logits = logits.data();
    args.out = out.data();
    args.num_tokens = tokens;
    impl->forward(args);
    return out;
  }
};

inline double half(uint16_t bits, DType dtype) { return half_bits_to_float(bits, dtype); }

// out[t] = sum_j w_j * W2_e (act(Wg_e x, Wu_e x)) + gate * sum_s shared_s(x), all in double,
// experts chosen by route() (the selection is float by definition), weights in double.
inline std::vector<double> plain_moe_fp64(const LayerFixture& f) {
  const ModelConfig& m = f.spec.model;
  const DType dt = f.spec.dtype;
  const int64_t H = m.hidden_size, I = m.moe_intermediate_size, E = m.num_experts, k = m.top_k;
  for (int e = 0; e < m.num_experts; ++e) f.weights().ensure_expert(e);  // read directly below
  const auto* w13 = static_cast<const uint16_t*>(f.weights().w13);
  const auto* w2 = static_cast<const uint16_t*>(f.weights().w2);
  Routing routing = route(m, f.logits.data(), f.tokens, f.bias());

  auto expert = [&](const uint16_t* e13, const uint16_t* e2, int64_t inter, const std::vector<double>& x) {
    std::vector<double> a(static_cast<size_t>(inter)), y(size_t(H), 0.0);
    for (int64_t i = 0; i < inter; ++i) {
      double g = 0, u = 0;
      for (int64_t h = 0; h < H; ++h) {
        g += half(e13[i * H + h], dt) * x[size_t(h)];
        u += half(e13[(inter + i) * H + h], dt) * x[size_t(h)];
      }
      a[size_t(i)] = gated_activation(m.activation, g, u);
    }
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < inter; ++i) y[size_t(h)] += half(e2[h * inter + i], dt) * a[size_t(i)];
    return y;
  };

  std::vector<double> out(size_t(f.tokens * H), 0.0);
  for (int64_t t = 0; t < f.tokens; ++t) {
    std::vector<double> x(static_cast<size_t>(H));
    for (int64_t h = 0; h < H; ++h) x[size_t(h)] = half(f.x[size_t(t * H + h)], dt);
    const float* l = f.logits.data() + t * E;

    std::vector<double> w(static_cast<size_t>(k));
    double denom = 0, chosen = 0, mx = l[0];
    for (int64_t e = 0; e < E; ++e) mx = std::max(mx, double(l[e]));
    for (int64_t e = 0; e < E; ++e) denom += std::exp(double(l[e]) - mx);
    for (int64_t j = 0; j < k; ++j) {
      double le = l[routing.expert_ids[size_t(t * k + j)]];
      w[size_t(j)] = m.scoring == ScoringFunc::softmax ? std::exp(le - mx) / denom : 1.0 / (1.0 + std::exp(-le));
      chosen += w[size_t(j)];
    }
    for (int64_t j = 0; j < k; ++j) {
      if (m.norm_topk_prob) w[size_t(j)] /= chosen;
      w[size_t(j)] *= m.routed_scaling_factor;
      int64_t e = routing.expert_ids[size_t(t * k + j)];
      std::vector<double> y = expert(w13 + e * 2 * I * H, w2 + e * H * I, I, x);
      for (int64_t h = 0; h < H; ++h) out[size_t(t * H + h)] += w[size_t(j)] * y[size_t(h)];
    }

    const int64_t Is = m.shared_intermediate_size;
    double gate = 1.0;
    if (m.num_shared_experts > 0 && m.shared_expert_gate) {
      double dot = 0;
      const auto* g = static_cast<const uint16_t*>(f.weights().shared_gate);
      for (int64_t h = 0; h < H; ++h) dot += half(g[h], dt) * x[size_t(h)];
      gate = 1.0 / (1.0 + std::exp(-dot));
    }
    for (int64_t s = 0; s < m.num_shared_experts; ++s) {
      std::vector<double> y = expert(static_cast<const uint16_t*>(f.weights().shared_w13) + s * 2 * Is * H,
                                     static_cast<const uint16_t*>(f.weights().shared_w2) + s * H * Is, Is, x);
      for (int64_t h = 0; h < H; ++h) out[size_t(t * H + h)] += gate * y[size_t(h)];
    }
  }
  return out;
}

// ||a - b|| / ||b||.
inline double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    err += (a[i] - b[i]) * (a[i] - b[i]);
    ref += b[i] * b[i];
  }
  return std::sqrt(err / ref);
}

inline std::vector<double> to_double(const std::vector<uint16_t>& bits, DType dtype) {
  std::vector<double> v(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) v[i] = half(bits[i], dtype);
  return v;
}

}  // namespace moebench::testing
