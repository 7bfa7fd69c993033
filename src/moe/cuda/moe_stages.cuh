#pragma once
// The stages every CUDA MoE implementation shares, with their workspaces sized once for
// spec.max_tokens: routing, permutation, gather, shared experts and the weighted combine.
// An implementation adds only its expert computation between gather() and combine():
// read rows() [T*k][H] in expert order, write expert_out() [T*k][H] in the same order; the
// gate+up output [T*k][2I] and the activated rows [T*k][I] have workspaces here too, with
// `extra_rows` more rows each for an implementation that adds rows (tile-rounded).
#include <cuda_runtime.h>

#include "backend/backend.hpp"
#include "moe/cuda/permute.cuh"
#include "moe/cuda/routing_kernels.cuh"
#include "moe/layer_spec.hpp"

namespace moebench {

class MoeStages {
 public:
  // gate_up_out() is allocated unless the implementation's gate+up step writes the activated
  // rows itself (fused: the activation in the GEMM epilogue, or the decode kernels).
  enum class GateUpOut { allocate, none };
  MoeStages(Backend& backend, const LayerSpec& spec, const LayerWeights& weights, int64_t extra_rows = 0,
            GateUpOut gate_up_out = GateUpOut::allocate);
  // Another layer's weights of the same shape, for the stages enqueued from now on.
  void bind_weights(const LayerWeights& weights) { weights_ = weights; }

  // Routing of args' tokens: expert_ids() and route_weights(). No host sync.
  void select_experts(const LayerArgs& args);
  // select_experts(), then the permutation of the slots by expert. No host sync.
  void route(const LayerArgs& args);
  // route(), then the expert-ordered rows.
  void route_and_gather(const LayerArgs& args);
  // The shared experts' output of args' tokens, [T][H] fp32 (summed over the shared experts),
  // and their gate logits [T] (null without a shared gate); both null when the config has none.
  struct SharedOutput {
    const float* out = nullptr;
    const float* gate_logits = nullptr;
  };
  SharedOutput shared_experts(const LayerArgs& args);
  // Shared experts (if any) into an fp32 buffer, then the weighted combine into args.out of
  // expert_out(): by default each slot's row from the permutation; an implementation that
  // moved rows passes its own slot rows (-1 for a dropped slot) and extra rows.
  void shared_and_combine(const LayerArgs& args, const int32_t* slot_rows = nullptr, const ExtraRows& extra = {});

  const ExpertPermutation& permutation() const { return permutation_; }
  void* rows() const { return rows_.get(); }
  void* expert_out() const { return expert_out_.get(); }
  void* gate_up_out() const { return gate_up_out_.get(); }  // null with GateUpOut::none
  void* activated() const { return activated_.get(); }
  const int32_t* expert_ids() const { return ids_.as<int32_t>(); }  // [T][k]
  const float* route_weights() const { return route_weights_.as<float>(); }  // [T][k]
  cudaStream_t stream() const { return stream_; }

 private:
  Backend& backend_;
  LayerSpec spec_;
  LayerWeights weights_;
  RouterParams router_;
  cudaStream_t stream_;
  ExpertPermutation permutation_;
  DeviceBuffer ids_, route_weights_, rows_, expert_out_, gate_up_out_, activated_;
  DeviceBuffer shared_h_, shared_act_, shared_out_, shared_gate_logits_;
};

}  // namespace moebench
