#pragma once
// One rank's part of an MoE layer's synthetic weights, for the whole-model benchmark over ranks:
// what an expert- or tensor-parallel layer (ep, tp) runs of the layer (RankExperts, as the
// implementation's ImplInfo::holds says) and nothing more: its ep group's routed experts, each
// over its slice of the intermediate dimension, and its slice of the shared experts; the shared
// expert gate and the score-correction bias whole. The values are the whole layer's
// (layer_weights.hpp) element for element, so ranks together compute what the one-device layer
// of the same seed computes, while each holds 1/tp of the experts (Qwen3-235B at TP8: 1/8 of its
// 94 layers' experts per GPU, where a whole LayerWeightStore per layer would not fit one).
//
// The view is the canonical layout of a layer of the group's experts at the slice's width, and
// says so (LayerWeights::rank_part): the rank layers run it as it is, a pointer swap per layer.
// On the CPU backend the routed experts are filled on first use, as LayerWeightStore fills them.
#include <vector>

#include "moe/layer_weights.hpp"

namespace moebench {

class RankLayerWeightStore final : public ExpertWeightStore {
 public:
  // `spec.parallel` places the rank (tp_size, ep_size, rank); `held` is what it runs.
  RankLayerWeightStore(Backend& backend, const LayerSpec& spec, const RankExperts& held);
  RankLayerWeightStore(const RankLayerWeightStore&) = delete;  // view() points into this object
  RankLayerWeightStore& operator=(const RankLayerWeightStore&) = delete;
  const LayerWeights& view() const override { return view_; }
  int64_t bytes() const override;
  void ensure(int expert) const override;  // the group's expert, from 0

 private:
  void fill_expert(int expert) const;

  Backend& backend_;
  LayerSpec spec_;
  RankExperts held_;
  DeviceBuffer w13_, w2_, shared_w13_, shared_w2_, shared_gate_, score_bias_;
  mutable std::vector<bool> filled_;  // per expert of the group; empty: all filled
  LayerWeights view_;
};

}  // namespace moebench
