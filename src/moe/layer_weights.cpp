#include "moe/layer_weights.hpp"

#include "core/errors.hpp"

namespace moebench {

std::vector<float> score_bias_values(const ModelConfig& model, uint64_t seed) {
  std::vector<float> bias;
  if (!model.score_correction_bias) return bias;
  bias.resize(size_t(model.num_experts));
  for (int e = 0; e < model.num_experts; ++e)
    bias[size_t(e)] = synth_value(seed, uint64_t(SynthStream::score_bias), uint64_t(e), kScoreBiasScale);
  return bias;
}

LayerWeightStore::LayerWeightStore(Backend& backend, const LayerSpec& spec) : backend_(backend), spec_(spec) {
  const ModelConfig& m = spec.model;
  if (spec.dtype != DType::bf16 && spec.dtype != DType::fp16)
    throw InputError(std::string("--dtype ") + dtype_name(spec.dtype) +
                     ": the layer benchmark runs bf16 or fp16 weights");
  const size_t elem = size_t(dtype_bytes(spec.dtype));
  const int64_t H = m.hidden_size, I = m.moe_intermediate_size;
  const size_t n13 = size_t(m.num_experts) * size_t(2 * I) * size_t(H);
  const size_t n2 = size_t(m.num_experts) * size_t(H) * size_t(I);

  w13_ = DeviceBuffer(backend, n13 * elem);
  w2_ = DeviceBuffer(backend, n2 * elem);
  view_.w13 = w13_.get();
  view_.w2 = w2_.get();
  if (backend.kind() == BackendKind::cpu) {
    filled_.assign(size_t(m.num_experts), false);
    view_.lazy = this;
  } else {
    backend.fill_synthetic(w13_.get(), spec.dtype, n13, spec.seed, uint64_t(SynthStream::expert_gate_up), 0,
                           fan_in_scale(H));
    backend.fill_synthetic(w2_.get(), spec.dtype, n2, spec.seed, uint64_t(SynthStream::expert_down), 0,
                           fan_in_scale(I));
  }

  if (m.num_shared_experts > 0) {
    const int64_t Is = m.shared_intermediate_size;
    const size_t s13 = size_t(m.num_shared_experts) * size_t(2 * Is) * size_t(H);
    const size_t s2 = size_t(m.num_shared_experts) * size_t(H) * size_t(Is);
    shared_w13_ = DeviceBuffer(backend, s13 * elem);
    shared_w2_ = DeviceBuffer(backend, s2 * elem);
    backend.fill_synthetic(shared_w13_.get(), spec.dtype, s13, spec.seed,
                           uint64_t(SynthStream::shared_gate_up), 0, fan_in_scale(H));
    backend.fill_synthetic(shared_w2_.get(), spec.dtype, s2, spec.seed, uint64_t(SynthStream::shared_down),
                           0, fan_in_scale(Is));
    view_.shared_w13 = shared_w13_.get();
    view_.shared_w2 = shared_w2_.get();
    if (m.shared_expert_gate) {
      // The gate's own weights follow the shared down projection's values past its end.
      shared_gate_ = DeviceBuffer(backend, size_t(H) * elem);
      backend.fill_synthetic(shared_gate_.get(), spec.dtype, size_t(H), spec.seed,
                             uint64_t(SynthStream::shared_down), s2, fan_in_scale(H));
      view_.shared_gate = shared_gate_.get();
    }
  }
  if (m.score_correction_bias) {
    std::vector<float> bias = score_bias_values(m, spec.seed);
    score_bias_ = DeviceBuffer(backend, bias.size() * sizeof(float));
    backend.copy_to_device(score_bias_.get(), bias.data(), bias.size() * sizeof(float));
    view_.score_bias = score_bias_.as<float>();
  }
}

// Expert e's values are elements [e * n, (e + 1) * n) of each tensor: the same values as a
// fill of the whole tensor at once.
void LayerWeightStore::fill_expert(int e) const {
  const int64_t H = spec_.model.hidden_size, I = spec_.model.moe_intermediate_size;
  const size_t elem = size_t(dtype_bytes(spec_.dtype));
  const size_t per13 = size_t(2 * I) * size_t(H), per2 = size_t(H) * size_t(I);
  backend_.fill_synthetic(static_cast<char*>(w13_.get()) + size_t(e) * per13 * elem, spec_.dtype, per13, spec_.seed,
                          uint64_t(SynthStream::expert_gate_up), uint64_t(e) * per13, fan_in_scale(H));
  backend_.fill_synthetic(static_cast<char*>(w2_.get()) + size_t(e) * per2 * elem, spec_.dtype, per2, spec_.seed,
                          uint64_t(SynthStream::expert_down), uint64_t(e) * per2, fan_in_scale(I));
}

void LayerWeightStore::ensure(int expert) const {
  if (expert < 0 || size_t(expert) >= filled_.size() || filled_[size_t(expert)]) return;
  fill_expert(expert);
  filled_[size_t(expert)] = true;
}

int64_t LayerWeightStore::bytes() const {
  return int64_t(w13_.bytes() + w2_.bytes() + shared_w13_.bytes() + shared_w2_.bytes() +
                 shared_gate_.bytes() + score_bias_.bytes());
}

}  // namespace moebench
