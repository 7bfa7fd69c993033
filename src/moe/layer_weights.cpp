#include "moe/layer_weights.hpp"

#include "core/errors.hpp"
#include "moe/fp8_weights.hpp"

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
  if (spec.dtype != DType::bf16 && spec.dtype != DType::fp16 && spec.dtype != DType::fp8)
    throw InputError(std::string("--dtype ") + dtype_name(spec.dtype) +
                     ": the layer benchmark runs bf16, fp16 or fp8 weights");
  if (spec.dtype == DType::fp8 && backend.kind() != BackendKind::cpu)
    throw InputError("--dtype fp8: no CUDA fp8 implementation in this build; run fp8 with --backend cpu");
  const bool fp8 = spec.dtype == DType::fp8;
  const size_t elem = size_t(dtype_bytes(spec.dtype));
  const int64_t H = m.hidden_size, I = m.moe_intermediate_size;
  const size_t n13 = size_t(m.num_experts) * size_t(2 * I) * size_t(H);
  const size_t n2 = size_t(m.num_experts) * size_t(H) * size_t(I);

  w13_ = DeviceBuffer(backend, n13 * elem);
  w2_ = DeviceBuffer(backend, n2 * elem);
  view_.w13 = w13_.get();
  view_.w2 = w2_.get();
  if (fp8) {
    w13_scale_ = DeviceBuffer(backend, size_t(m.num_experts * fp8_gate_up_scales(spec.fp8_scaling, H, I)) * sizeof(float));
    w2_scale_ = DeviceBuffer(backend, size_t(m.num_experts * fp8_down_scales(spec.fp8_scaling, H, I)) * sizeof(float));
    view_.w13_scale = w13_scale_.as<float>();
    view_.w2_scale = w2_scale_.as<float>();
  }
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
    view_.shared_w13 = shared_w13_.get();
    view_.shared_w2 = shared_w2_.get();
    if (fp8) {
      const Fp8Scaling sc = spec.fp8_scaling;
      shared_w13_scale_ = DeviceBuffer(backend, size_t(m.num_shared_experts * fp8_gate_up_scales(sc, H, Is)) * sizeof(float));
      shared_w2_scale_ = DeviceBuffer(backend, size_t(m.num_shared_experts * fp8_down_scales(sc, H, Is)) * sizeof(float));
      view_.shared_w13_scale = shared_w13_scale_.as<float>();
      view_.shared_w2_scale = shared_w2_scale_.as<float>();
      for (int s = 0; s < m.num_shared_experts; ++s)
        fill_fp8(s, Is, SynthStream::shared_gate_up, SynthStream::shared_down, shared_w13_, shared_w2_,
                 shared_w13_scale_, shared_w2_scale_);
    } else {
      backend.fill_synthetic(shared_w13_.get(), spec.dtype, s13, spec.seed,
                             uint64_t(SynthStream::shared_gate_up), 0, fan_in_scale(H));
      backend.fill_synthetic(shared_w2_.get(), spec.dtype, s2, spec.seed, uint64_t(SynthStream::shared_down),
                             0, fan_in_scale(Is));
    }
    if (m.shared_expert_gate) {
      // The gate's own weights follow the shared down projection's values past its end; they
      // stay in the activation dtype (bf16 in an fp8 layer, like the router).
      const DType gate_dtype = activation_dtype(spec.dtype);
      shared_gate_ = DeviceBuffer(backend, size_t(H) * size_t(dtype_bytes(gate_dtype)));
      backend.fill_synthetic(shared_gate_.get(), gate_dtype, size_t(H), spec.seed,
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

// fp8: expert e's bf16 values (as a bf16 layer of the same seed holds them), quantised into
// its bytes and scales.
void LayerWeightStore::fill_fp8(int e, int64_t inter, SynthStream gate_up, SynthStream down, const DeviceBuffer& q13,
                                const DeviceBuffer& q2, const DeviceBuffer& s13, const DeviceBuffer& s2) const {
  const int64_t H = spec_.model.hidden_size;
  const Fp8Scaling sc = spec_.fp8_scaling;
  const size_t per13 = size_t(2 * inter) * size_t(H), per2 = size_t(H) * size_t(inter);
  std::vector<uint16_t> w13(per13), w2(per2);
  backend_.fill_synthetic(w13.data(), DType::bf16, per13, spec_.seed, uint64_t(gate_up), uint64_t(e) * per13,
                          fan_in_scale(H));
  backend_.fill_synthetic(w2.data(), DType::bf16, per2, spec_.seed, uint64_t(down), uint64_t(e) * per2,
                          fan_in_scale(inter));
  quantize_expert_fp8(w13.data(), w2.data(), H, inter, sc, q13.as<uint8_t>() + size_t(e) * per13,
                      s13.as<float>() + e * fp8_gate_up_scales(sc, H, inter), q2.as<uint8_t>() + size_t(e) * per2,
                      s2.as<float>() + e * fp8_down_scales(sc, H, inter));
}

// Expert e's values are elements [e * n, (e + 1) * n) of each tensor: the same values as a
// fill of the whole tensor at once.
void LayerWeightStore::fill_expert(int e) const {
  const int64_t H = spec_.model.hidden_size, I = spec_.model.moe_intermediate_size;
  if (spec_.dtype == DType::fp8) {
    fill_fp8(e, I, SynthStream::expert_gate_up, SynthStream::expert_down, w13_, w2_, w13_scale_, w2_scale_);
    return;
  }
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
  return int64_t(w13_.bytes() + w2_.bytes() + shared_w13_.bytes() + shared_w2_.bytes() + shared_gate_.bytes() +
                 score_bias_.bytes() + w13_scale_.bytes() + w2_scale_.bytes() + shared_w13_scale_.bytes() +
                 shared_w2_scale_.bytes());
}

}  // namespace moebench
