// RankLayerWeightStore (rank_weights.hpp): one rank's part of an MoE layer's weights, each value
// the one layer_weights.cpp gives the same element of the whole layer.
#include "moe/rank_weights.hpp"

#include "core/errors.hpp"

namespace moebench {

namespace {

// Rows [begin, end) of the gate half and the same rows of the up half of one expert's w13
// ([2 * inter][H], first element `base` of the synthetic stream), as a w13 of end - begin rows.
void fill_gate_up(Backend& backend, char* dst, DType dtype, const LayerSpec& spec, SynthStream stream, uint64_t base,
                  int64_t inter, std::pair<int64_t, int64_t> rows, int64_t H) {
  const size_t n = size_t((rows.second - rows.first) * H), elem = size_t(dtype_bytes(dtype));
  const float scale = fan_in_scale(H);
  backend.fill_synthetic(dst, dtype, n, spec.seed, uint64_t(stream), base + uint64_t(rows.first * H), scale);
  backend.fill_synthetic(dst + n * elem, dtype, n, spec.seed, uint64_t(stream),
                         base + uint64_t((inter + rows.first) * H), scale);
}

// Columns [begin, end) of every row of one expert's w2 ([H][inter], from `base`).
void fill_down(Backend& backend, char* dst, DType dtype, const LayerSpec& spec, SynthStream stream, uint64_t base,
               int64_t inter, std::pair<int64_t, int64_t> columns, int64_t H) {
  backend.fill_synthetic_columns(dst, dtype, size_t(H), size_t(columns.second - columns.first), size_t(inter),
                                 spec.seed, uint64_t(stream), base + uint64_t(columns.first), fan_in_scale(inter));
}

}  // namespace

RankLayerWeightStore::RankLayerWeightStore(Backend& backend, const LayerSpec& spec, const RankExperts& held)
    : backend_(backend), spec_(spec), held_(held) {
  const ModelConfig& m = spec.model;
  if (spec.dtype != DType::bf16 && spec.dtype != DType::fp16)
    throw InputError(std::string("--dtype ") + dtype_name(spec.dtype) + ": the rank layers run bf16 or fp16 weights");
  const size_t elem = size_t(dtype_bytes(spec.dtype));
  const int64_t H = m.hidden_size;
  const int count = spec.parallel.experts_per_group(m.num_experts);
  const int64_t n = held.routed_inter.second - held.routed_inter.first;
  w13_ = DeviceBuffer(backend, size_t(count) * size_t(2 * n * H) * elem);
  w2_ = DeviceBuffer(backend, size_t(count) * size_t(H * n) * elem);
  view_.w13 = w13_.get();
  view_.w2 = w2_.get();
  view_.rank_part = true;
  view_.rank_routed_inter = n;
  if (backend.kind() == BackendKind::cpu) {
    filled_.assign(size_t(count), false);
    view_.lazy = this;
  } else {
    for (int e = 0; e < count; ++e) fill_expert(e);
  }

  if (m.num_shared_experts > 0) {
    const int64_t Is = m.shared_intermediate_size, S = m.num_shared_experts;
    const int64_t ns = held.shared_inter.second - held.shared_inter.first;
    shared_w13_ = DeviceBuffer(backend, size_t(S * 2 * ns * H) * elem);
    shared_w2_ = DeviceBuffer(backend, size_t(S * H * ns) * elem);
    for (int64_t s = 0; s < S; ++s) {
      fill_gate_up(backend, shared_w13_.as<char>() + size_t(s * 2 * ns * H) * elem, spec.dtype, spec,
                   SynthStream::shared_gate_up, uint64_t(s * 2 * Is * H), Is, held.shared_inter, H);
      fill_down(backend, shared_w2_.as<char>() + size_t(s * H * ns) * elem, spec.dtype, spec,
                SynthStream::shared_down, uint64_t(s * H * Is), Is, held.shared_inter, H);
    }
    view_.shared_w13 = shared_w13_.get();
    view_.shared_w2 = shared_w2_.get();
    view_.rank_shared_inter = ns;
    if (m.shared_expert_gate) {  // whole, past the end of the whole shared down projection
      shared_gate_ = DeviceBuffer(backend, size_t(H) * elem);
      backend.fill_synthetic(shared_gate_.get(), spec.dtype, size_t(H), spec.seed, uint64_t(SynthStream::shared_down),
                             uint64_t(S * H * Is), fan_in_scale(H));
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

// Expert e of the group is expert first + e of the layer.
void RankLayerWeightStore::fill_expert(int e) const {
  const ModelConfig& m = spec_.model;
  const int64_t H = m.hidden_size, I = m.moe_intermediate_size;
  const int64_t n = held_.routed_inter.second - held_.routed_inter.first;
  const size_t elem = size_t(dtype_bytes(spec_.dtype));
  const uint64_t global = uint64_t(spec_.parallel.first_local_expert(m.num_experts) + e);
  fill_gate_up(backend_, w13_.as<char>() + size_t(e) * size_t(2 * n * H) * elem, spec_.dtype, spec_,
               SynthStream::expert_gate_up, global * uint64_t(2 * I * H), I, held_.routed_inter, H);
  fill_down(backend_, w2_.as<char>() + size_t(e) * size_t(H * n) * elem, spec_.dtype, spec_, SynthStream::expert_down,
            global * uint64_t(H * I), I, held_.routed_inter, H);
}

void RankLayerWeightStore::ensure(int expert) const {
  if (expert < 0 || size_t(expert) >= filled_.size() || filled_[size_t(expert)]) return;
  fill_expert(expert);
  filled_[size_t(expert)] = true;
}

int64_t RankLayerWeightStore::bytes() const {
  return int64_t(w13_.bytes() + w2_.bytes() + shared_w13_.bytes() + shared_w2_.bytes() + shared_gate_.bytes() +
                 score_bias_.bytes());
}

}  // namespace moebench
