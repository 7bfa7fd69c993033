// RankLayer (rank_layer.hpp): the parts the CPU's ep and tp layers share.
#include "moe/cpu/rank_layer.hpp"

#include <cmath>

#include <fmt/format.h>

#include "core/errors.hpp"
#include "core/parallel.hpp"
#include "dist/self_communicator.hpp"

namespace moebench {

std::unique_ptr<MoeImpl> make_cpu_reference(Backend& backend);

namespace cpu {

void RankLayer::prepare_rank(const LayerSpec& spec, const LayerWeights& weights, const RankExperts& held) {
  if (backend_.kind() != BackendKind::cpu) throw InputError("this implementation runs on the CPU backend only");
  check_rank_layer_spec(spec, "the CPU layers");
  const MoeParallel& p = spec.parallel;
  spec_ = spec;
  if (!spec.parallel.comm) {
    if (p.tp_size != 1) throw InputError("a layer of several ranks needs their communicator");
    own_comm_ = std::make_unique<SelfCommunicator>();
  }
  held_ = held;
  bind_weights(weights);
}

void RankLayer::bind_weights(const LayerWeights& weights) {
  weights_ = weights;
  const ModelConfig& m = spec_.model;
  bias_.clear();
  if (m.score_correction_bias && weights.score_bias)
    bias_.assign(weights.score_bias, weights.score_bias + m.num_experts);
  shared_gate_.clear();
  if (m.num_shared_experts > 0 && m.shared_expert_gate) {
    std::vector<uint16_t> bits(size_t(m.hidden_size));
    backend_.copy_to_host(bits.data(), weights.shared_gate, bits.size() * sizeof(uint16_t));
    for (uint16_t b : bits) shared_gate_.push_back(half_bits_to_float(b, spec_.dtype));
  }
  make_or_bind_experts();
}

void RankLayer::make_or_bind_experts() {
  make_or_bind_rank_experts(backend_, make_cpu_reference, spec_, weights_, &weights_, held_, routed_, shared_);
}

Routing RankLayer::route_tokens(const float* logits, int64_t tokens) const {
  return route(spec_.model, logits, tokens, bias_);
}

void RankLayer::add_shared(const uint16_t* x, int64_t tokens, float* acc) {
  if (!shared_ || shared_->empty() || tokens == 0) return;
  const int64_t H = spec_.model.hidden_size;
  const int S = spec_.model.num_shared_experts;
  const size_t rows = size_t(tokens) * size_t(S);
  shared_x_.resize(rows * size_t(H));
  shared_y_.resize(rows * size_t(H));
  shared_ids_.resize(rows);
  for (int64_t t = 0; t < tokens; ++t)
    for (int s = 0; s < S; ++s) {
      const size_t row = size_t(t) * size_t(S) + size_t(s);
      std::copy_n(x + t * H, H, shared_x_.data() + row * size_t(H));
      shared_ids_[row] = s;
    }
  shared_->run(shared_x_.data(), shared_ids_.data(), int64_t(rows), shared_y_.data());
  parallel_for(tokens, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      float gate = 1.0f;
      if (!shared_gate_.empty()) {
        float dot = 0;
        for (int64_t c = 0; c < H; ++c) dot += half_bits_to_float(x[t * H + c], spec_.dtype) * shared_gate_[size_t(c)];
        gate = 1.0f / (1.0f + std::exp(-dot));
      }
      for (int s = 0; s < S; ++s) {
        const uint16_t* y = shared_y_.data() + (size_t(t) * size_t(S) + size_t(s)) * size_t(H);
        for (int64_t c = 0; c < H; ++c) acc[t * H + c] += gate * half_bits_to_float(y[c], spec_.dtype);
      }
    }
  }, 16);
}

void RankLayer::add_rows(const uint16_t* y, const int32_t* token, const float* weight, int64_t n, float* acc) const {
  const int64_t H = spec_.model.hidden_size;
  // Rows in order, so that a token's sum has one order whatever the thread count; columns split.
  parallel_for(H, [&](int64_t begin, int64_t end) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = begin; c < end; ++c)
        acc[int64_t(token[i]) * H + c] += weight[i] * half_bits_to_float(y[i * H + c], spec_.dtype);
  }, 64);
}

void RankLayer::write_out(const float* acc, int64_t tokens, void* out) const {
  uint16_t* y = static_cast<uint16_t*>(out);
  parallel_for(tokens * spec_.model.hidden_size, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = float_to_half_bits(acc[i], spec_.dtype);
  }, 1 << 14);
}

double RankLayer::ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::vector<std::pair<std::string, double>> RankLayer::counters() const {
  return {{"dispatch_ms", dispatch_ms_},   {"expert_ms", expert_ms_},
          {"combine_ms", combine_ms_},     {"sent_bytes", sent_bytes_},
          {"received_bytes", received_bytes_}, {"expert_rows", double(expert_rows_)}};
}

}  // namespace cpu
}  // namespace moebench
