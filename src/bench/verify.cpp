// The fp64 reference and the check of a layer output against it (verify.hpp).
//
// Experts are visited one at a time: its weights are read back from the backend once, turned
// into floats (exact), and applied in double to every checked token that uses it, so the host
// holds one expert, never the layer.
#include "bench/verify.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "core/errors.hpp"
#include "core/fp8_scaling.hpp"
#include "core/parallel.hpp"
#include "moe/activation.hpp"
#include "moe/fp8_weights.hpp"
#include "routing/expert_selector.hpp"
#include "routing/routing.hpp"
#include "routing/tile_rounding.hpp"

namespace moebench {

namespace {

// Selection scores closer than this (relative) may order differently on another device.
constexpr double kNearTie = 1e-6;

// sum_i w[i] * x[i] in double, eight partial sums (fixed order) so the compiler can vectorise
// and the additions do not wait on each other.
double dot(const float* w, const double* x, int64_t n) {
  constexpr int kLanes = 8;
  double s[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) s[l] += double(w[i + l]) * x[i + l];
  for (; i < n; ++i) s[0] += double(w[i]) * x[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

void require_half_dtype(DType dtype) {
  if (dtype != DType::bf16 && dtype != DType::fp16 && dtype != DType::fp8)
    throw InputError(fmt::format("--dtype {}: verification checks bf16, fp16 or fp8 layers", dtype_name(dtype)));
}

// fp8: one expert's e4m3 bytes and scales (fp8_weights.hpp), read back and dequantised into
// floats w13 [2 * inter][H], w2 [H][inter].
void read_fp8_expert(Backend& backend, const LayerSpec& spec, const void* q13, const void* q2, const float* s13,
                     const float* s2, int e, int64_t inter, std::vector<float>& w13, std::vector<float>& w2) {
  const int64_t H = spec.model.hidden_size;
  const Fp8Scaling sc = spec.fp8_scaling;
  const size_t n13 = size_t(2 * inter * H), n2 = size_t(H * inter);
  const size_t c13 = size_t(fp8_gate_up_scales(sc, H, inter)), c2 = size_t(fp8_down_scales(sc, H, inter));
  std::vector<uint8_t> b13(n13), b2(n2);
  std::vector<float> f13(c13), f2(c2);
  backend.copy_to_host(b13.data(), static_cast<const uint8_t*>(q13) + size_t(e) * n13, n13);
  backend.copy_to_host(b2.data(), static_cast<const uint8_t*>(q2) + size_t(e) * n2, n2);
  backend.copy_to_host(f13.data(), s13 + size_t(e) * c13, c13 * sizeof(float));
  backend.copy_to_host(f2.data(), s2 + size_t(e) * c2, c2 * sizeof(float));
  w13.resize(n13);
  w2.resize(n2);
  dequantize_expert_fp8(b13.data(), f13.data(), b2.data(), f2.data(), H, inter, sc, w13.data(), w2.data());
}

// fp8: a row of activations in double as an fp8 GEMM sees it: rounded to float, quantised per
// token (group) and dequantised, the same routine as the implementation's.
void quantize_row_fp8(double* row, int64_t n, Fp8Scaling sc) {
  std::vector<float> f(static_cast<size_t>(n));
  for (int64_t c = 0; c < n; ++c) f[size_t(c)] = float(row[c]);
  fake_quantize_activations_fp8(f.data(), n, sc);
  for (int64_t c = 0; c < n; ++c) row[c] = f[size_t(c)];
}

// Reads `count` 16-bit elements at element offset `first` of a backend buffer into `values` as
// floats. On the CPU backend the buffer is host memory and is read in place; elsewhere it comes
// over in one copy, through `staging`. Both vectors are reused from expert to expert, so the
// host touches their memory once per check rather than once per expert.
void read_floats(Backend& backend, const void* buffer, DType dtype, size_t first, size_t count,
                 std::vector<uint16_t>& staging, std::vector<float>& values) {
  const uint16_t* bits = static_cast<const uint16_t*>(buffer) + first;
  if (backend.kind() != BackendKind::cpu) {
    staging.resize(count);
    backend.copy_to_host(staging.data(), bits, count * sizeof(uint16_t));
    bits = staging.data();
  }
  values.resize(count);
  parallel_for(int64_t(count), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) values[size_t(i)] = half_bits_to_float(bits[size_t(i)], dtype);
  }, 1 << 16);
}

// The routing weights of a token's chosen experts, in double from its float logits.
std::vector<double> routing_weights_fp64(const ModelConfig& m, const float* logits, const int32_t* ids) {
  const int k = m.top_k;
  std::vector<double> w(static_cast<size_t>(k));
  if (m.scoring == ScoringFunc::softmax) {
    double mx = *std::max_element(logits, logits + m.num_experts);
    double denom = 0;
    for (int e = 0; e < m.num_experts; ++e) denom += std::exp(double(logits[e]) - mx);
    for (int j = 0; j < k; ++j) w[size_t(j)] = std::exp(double(logits[ids[j]]) - mx) / denom;
  } else {
    for (int j = 0; j < k; ++j) w[size_t(j)] = 1.0 / (1.0 + std::exp(-double(logits[ids[j]])));
  }
  if (m.norm_topk_prob) {
    double sum = 0;
    for (double v : w) sum += v;
    if (m.scoring == ScoringFunc::sigmoid) sum += 1e-20;
    for (double& v : w) v /= sum;
  }
  for (double& v : w) v *= m.routed_scaling_factor;
  return w;
}

// One token row's use of an expert: which checked token, with what combine weight.
struct ExpertRow {
  size_t token;  // index into the checked tokens
  double weight;
};

// out[row.token] += row.weight * down(act(gate(x), up(x))) for every row, in double.
// w13: [2 * inter][H] floats, w2: [H][inter] floats; x: [n][H] doubles; out: [n][H]. With
// `fp8` set, the intermediate activation is quantised (quantize_row_fp8) before down.
void apply_expert(const std::vector<float>& w13, const std::vector<float>& w2, int64_t H, int64_t inter,
                  Activation act, const std::vector<ExpertRow>& rows, const std::vector<double>& x,
                  std::vector<double>& out, const Fp8Scaling* fp8 = nullptr) {
  const size_t n = rows.size();
  std::vector<double> gate_up(n * size_t(2 * inter));
  parallel_for(2 * inter, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (size_t i = 0; i < n; ++i)
        gate_up[i * size_t(2 * inter) + size_t(r)] =
            dot(w13.data() + size_t(r * H), x.data() + rows[i].token * size_t(H), H);
  }, 16);
  std::vector<double> h(n * size_t(inter));
  for (size_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < inter; ++c)
      h[i * size_t(inter) + size_t(c)] = gated_activation(act, gate_up[i * size_t(2 * inter) + size_t(c)],
                                                          gate_up[i * size_t(2 * inter) + size_t(inter + c)]);
  if (fp8)
    for (size_t i = 0; i < n; ++i) quantize_row_fp8(h.data() + i * size_t(inter), inter, *fp8);
  parallel_for(H, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (size_t i = 0; i < n; ++i)
        out[rows[i].token * size_t(H) + size_t(r)] +=
            rows[i].weight * dot(w2.data() + size_t(r * inter), h.data() + i * size_t(inter), inter);
  }, 16);
}

std::vector<int64_t> sample_tokens(int64_t num_tokens, int64_t max_tokens) {
  std::vector<int64_t> tokens;
  if (num_tokens <= max_tokens) {
    for (int64_t t = 0; t < num_tokens; ++t) tokens.push_back(t);
  } else if (max_tokens == 1) {
    tokens.push_back(0);
  } else {  // first, last and evenly spaced between: round(i * (T - 1) / (n - 1))
    for (int64_t i = 0; i < max_tokens; ++i)
      tokens.push_back((i * (num_tokens - 1) * 2 + (max_tokens - 1)) / (2 * (max_tokens - 1)));
  }
  return tokens;
}

std::vector<float> score_bias_of(Backend& backend, const ModelConfig& m, const LayerWeights& weights) {
  std::vector<float> bias;
  if (m.score_correction_bias && weights.score_bias) {
    bias.resize(size_t(m.num_experts));
    backend.copy_to_host(bias.data(), weights.score_bias, bias.size() * sizeof(float));
  }
  return bias;
}

// The experts each checked token uses, with their combine weights in double.
using TokenAssignments = std::vector<std::vector<std::pair<int32_t, double>>>;

// Exact top-k: selection exactly as route() makes it (float); weights in double.
TokenAssignments exact_assignments(Backend& backend, const ModelConfig& m, const LayerWeights& weights,
                                   const float* logits_host, const std::vector<int64_t>& tokens) {
  ExpertSelector selector(m, score_bias_of(backend, m, weights));
  std::vector<int32_t> ids(size_t(m.top_k));
  std::vector<float> unused(size_t(m.top_k));
  TokenAssignments out(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    const float* logits = logits_host + size_t(tokens[i]) * size_t(m.num_experts);
    selector.route_token(logits, ids.data(), unused.data());
    std::vector<double> w = routing_weights_fp64(m, logits, ids.data());
    for (int j = 0; j < m.top_k; ++j) out[i].push_back({ids[size_t(j)], w[size_t(j)]});
  }
  return out;
}

// Tile-aware token rounding of the whole batch's routing (round_to_tiles decides on all
// tokens), then the checked tokens' kept and added experts. Weights in double: a kept slot's
// as exact routing gives it, an added one's relative to the token's first choice f as the
// rounding defines it: w_f * exp(l_e - l_f) (softmax) or w_f * sigmoid(l_e) / sigmoid(l_f).
TokenAssignments rounded_assignments(Backend& backend, const ModelConfig& m, const LayerWeights& weights,
                                     const float* logits_host, int64_t num_tokens,
                                     const std::vector<int64_t>& tokens, int tile_rows) {
  const Routing routing = route(m, logits_host, num_tokens, score_bias_of(backend, m, weights));
  const RoundedRouting rounded = round_to_tiles(m, logits_host, routing, tile_rows);
  TokenAssignments exact = exact_assignments(backend, m, weights, logits_host, tokens);
  std::vector<std::vector<size_t>> added_of_token(static_cast<size_t>(num_tokens));
  for (size_t a = 0; a < rounded.added_token.size(); ++a) added_of_token[size_t(rounded.added_token[a])].push_back(a);
  auto sigmoid = [](double l) { return 1.0 / (1.0 + std::exp(-l)); };
  TokenAssignments out(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int64_t t = tokens[i];
    const float* logits = logits_host + size_t(t) * size_t(m.num_experts);
    for (int j = 0; j < m.top_k; ++j)
      if (!rounded.dropped[size_t(t * m.top_k + j)]) out[i].push_back(exact[i][size_t(j)]);
    const auto [first, first_weight] = exact[i].front();
    for (size_t a : added_of_token[size_t(t)]) {
      const int32_t e = rounded.added_expert[a];
      const double ratio = m.scoring == ScoringFunc::softmax
                               ? std::exp(double(logits[e]) - double(logits[first]))
                               : sigmoid(logits[e]) / sigmoid(logits[first]);
      out[i].push_back({e, first_weight * ratio});
    }
  }
  return out;
}

// The fp64 forward of the checked tokens through their assigned experts and the shared ones.
std::vector<double> forward_fp64(Backend& backend, const LayerSpec& spec, const LayerWeights& weights,
                                 const uint16_t* x_host, const std::vector<int64_t>& tokens,
                                 const TokenAssignments& assignments) {
  const ModelConfig& m = spec.model;
  const int64_t H = m.hidden_size, I = m.moe_intermediate_size;
  const size_t n = tokens.size();

  const bool fp8 = spec.dtype == DType::fp8;
  const DType x_dtype = activation_dtype(spec.dtype);
  const Fp8Scaling* quantize = fp8 ? &spec.fp8_scaling : nullptr;
  std::vector<double> x(n * size_t(H));
  for (size_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < H; ++c)
      x[i * size_t(H) + size_t(c)] = half_bits_to_float(x_host[size_t(tokens[i] * H + c)], x_dtype);
  // The experts' input: fp8 quantises it per token (group); the shared-expert gate reads x.
  std::vector<double> xe = x;
  if (fp8)
    for (size_t i = 0; i < n; ++i) quantize_row_fp8(xe.data() + i * size_t(H), H, spec.fp8_scaling);

  std::vector<std::vector<ExpertRow>> by_expert(static_cast<size_t>(m.num_experts));
  for (size_t i = 0; i < n; ++i)
    for (const auto& [e, w] : assignments[i]) by_expert[size_t(e)].push_back({i, w});

  std::vector<double> out(n * size_t(H), 0.0);
  std::vector<uint16_t> staging;
  std::vector<float> w13, w2;
  for (int e = 0; e < m.num_experts; ++e) {
    if (by_expert[size_t(e)].empty()) continue;
    weights.ensure_expert(e);  // filled on first use (layer_spec.hpp: LazyExperts)
    if (fp8) {
      read_fp8_expert(backend, spec, weights.w13, weights.w2, weights.w13_scale, weights.w2_scale, e, I, w13, w2);
    } else {
      read_floats(backend, weights.w13, spec.dtype, size_t(e) * size_t(2 * I * H), size_t(2 * I * H), staging, w13);
      read_floats(backend, weights.w2, spec.dtype, size_t(e) * size_t(H * I), size_t(H * I), staging, w2);
    }
    apply_expert(w13, w2, H, I, m.activation, by_expert[size_t(e)], xe, out, quantize);
  }

  if (m.num_shared_experts > 0 && n > 0) {
    const int64_t Is = m.shared_intermediate_size;
    std::vector<ExpertRow> rows(n);
    std::vector<float> gate;
    if (m.shared_expert_gate) read_floats(backend, weights.shared_gate, x_dtype, 0, size_t(H), staging, gate);
    for (size_t i = 0; i < n; ++i) {
      rows[i] = {i, 1.0};
      if (!gate.empty()) rows[i].weight = 1.0 / (1.0 + std::exp(-dot(gate.data(), x.data() + i * size_t(H), H)));
    }
    for (int s = 0; s < m.num_shared_experts; ++s) {
      if (fp8) {
        read_fp8_expert(backend, spec, weights.shared_w13, weights.shared_w2, weights.shared_w13_scale,
                        weights.shared_w2_scale, s, Is, w13, w2);
      } else {
        read_floats(backend, weights.shared_w13, spec.dtype, size_t(s) * size_t(2 * Is * H), size_t(2 * Is * H),
                    staging, w13);
        read_floats(backend, weights.shared_w2, spec.dtype, size_t(s) * size_t(H * Is), size_t(H * Is), staging, w2);
      }
      apply_expert(w13, w2, H, Is, m.activation, rows, xe, out, quantize);
    }
  }
  return out;
}

}  // namespace

double verify_tolerance(DType dtype) {
  switch (dtype) {
    case DType::bf16:
    case DType::fp16: return 2e-2;
    // Against the reference on the same dequantised weights and quantised activations: what is
    // left is float accumulation and the bf16 output's rounding (~1e-3), as for bf16 itself.
    case DType::fp8: return 1e-2;
    case DType::fp32: return 1e-4;
  }
  return 0;
}

std::vector<double> reference_forward_fp64(Backend& backend, const LayerSpec& spec, const LayerWeights& weights,
                                           const uint16_t* x_host, const float* logits_host,
                                           const std::vector<int64_t>& tokens) {
  require_half_dtype(spec.dtype);
  return forward_fp64(backend, spec, weights, x_host, tokens,
                      exact_assignments(backend, spec.model, weights, logits_host, tokens));
}

LayerReference make_layer_reference(Backend& backend, const LayerSpec& spec, const LayerWeights& weights,
                                    const uint16_t* x_host, const float* logits_host, int64_t num_tokens,
                                    int64_t max_tokens, int tile_rows) {
  require_half_dtype(spec.dtype);
  if (max_tokens <= 0) throw InputError(fmt::format("--verify-tokens must be positive (got {})", max_tokens));
  const ModelConfig& m = spec.model;
  LayerReference ref;
  ref.num_tokens = num_tokens;
  ref.hidden_size = m.hidden_size;
  ref.dtype = activation_dtype(spec.dtype);
  ref.tolerance = verify_tolerance(spec.dtype);

  ExpertSelector selector(m, score_bias_of(backend, m, weights));
  std::vector<int32_t> ids(size_t(m.top_k));
  std::vector<float> unused(size_t(m.top_k));
  for (int64_t t : sample_tokens(num_tokens, max_tokens)) {
    selector.route_token(logits_host + size_t(t) * size_t(m.num_experts), ids.data(), unused.data());
    if (selector.boundary_gap() <= kNearTie)
      ++ref.tokens_ambiguous;
    else
      ref.checked.push_back(t);
  }
  const TokenAssignments assignments =
      tile_rows > 0 ? rounded_assignments(backend, m, weights, logits_host, num_tokens, ref.checked, tile_rows)
                    : exact_assignments(backend, m, weights, logits_host, ref.checked);
  ref.expected = forward_fp64(backend, spec, weights, x_host, ref.checked, assignments);
  return ref;
}

LayerReference make_replayed_reference(Backend& backend, const LayerSpec& spec, const LayerWeights& weights,
                                       const uint16_t* x_host, const int32_t* expert_ids, const float* routing_weights,
                                       int64_t num_tokens, int64_t max_tokens) {
  require_half_dtype(spec.dtype);
  if (max_tokens <= 0) throw InputError(fmt::format("--verify-tokens must be positive (got {})", max_tokens));
  const int k = spec.model.top_k;
  LayerReference ref;
  ref.num_tokens = num_tokens;
  ref.hidden_size = spec.model.hidden_size;
  ref.dtype = spec.dtype;
  ref.checked = sample_tokens(num_tokens, max_tokens);
  TokenAssignments assignments(ref.checked.size());
  for (size_t i = 0; i < ref.checked.size(); ++i)
    for (int j = 0; j < k; ++j) {
      const size_t at = size_t(ref.checked[i]) * size_t(k) + size_t(j);
      assignments[i].push_back({expert_ids[at], double(routing_weights[at])});
    }
  ref.expected = forward_fp64(backend, spec, weights, x_host, ref.checked, assignments);
  return ref;
}

VerifyResult check_against_reference(const LayerReference& reference, const uint16_t* out_host) {
  const int64_t H = reference.hidden_size;
  VerifyResult result;
  result.tokens_ambiguous = reference.tokens_ambiguous;
  result.tokens_checked = int64_t(reference.checked.size());

  // NaN: all exponent bits set and a non-zero mantissa (0xFF poison bytes are NaN in both).
  const uint16_t inf_bits = reference.dtype == DType::bf16 ? 0x7f80 : 0x7c00;
  for (int64_t i = 0; i < reference.num_tokens * H; ++i) result.unwritten += (out_host[size_t(i)] & 0x7fff) > inf_bits;

  double err2 = 0, ref2 = 0;
  for (size_t i = 0; i < reference.checked.size(); ++i)
    for (int64_t c = 0; c < H; ++c) {
      double r = reference.expected[i * size_t(H) + size_t(c)];
      double o = half_bits_to_float(out_host[size_t(reference.checked[i] * H + c)], reference.dtype);
      err2 += (o - r) * (o - r);
      ref2 += r * r;
    }
  if (ref2 > 0)
    result.rel_error = std::sqrt(err2 / ref2);
  else
    result.rel_error = err2 == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  // NaN anywhere fails (and a NaN error compares false); so does a check of no token at all.
  result.passed =
      result.unwritten == 0 && result.tokens_checked > 0 && result.rel_error <= reference.tolerance;
  return result;
}

VerifyResult verify_layer_output(Backend& backend, const LayerSpec& spec, const LayerWeights& weights,
                                 const uint16_t* x_host, const float* logits_host, int64_t num_tokens,
                                 const uint16_t* out_host, int64_t max_tokens, int tile_rows) {
  return check_against_reference(
      make_layer_reference(backend, spec, weights, x_host, logits_host, num_tokens, max_tokens, tile_rows), out_host);
}

}  // namespace moebench
