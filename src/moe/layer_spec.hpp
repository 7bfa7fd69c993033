#pragma once
// What an MoE layer implementation is built for and what it is run on.
//
// Canonical weight layout on the backend (every implementation receives this; one that wants
// another layout derives it in prepare(), untimed):
//   w13        [num_experts][2 * I][H]  rows 0..I-1 are gate, I..2I-1 are up (K-contiguous);
//              on the CPU backend filled per expert on first use (LazyExperts below)
//   w2         [num_experts][H][I]
//   shared_w13 [num_shared][2 * Is][H], shared_w2 [num_shared][H][Is]
//   shared_gate [H] (Qwen2-MoE's sigmoid gate of the shared expert), when the model has one
//   score_bias [num_experts] float (DeepSeek-V3 e_score_correction_bias), when it has one
// Activations: x [T][H] and out [T][H] in activation_dtype(dtype) (bf16 for fp8); logits [T][E] float.
// fp8 (dtype fp8): w13, w2, shared_w13, shared_w2 hold e4m3 bytes, each expert's fp32 scales in
// the *_scale tensors (moe/fp8_weights.hpp: gate, up and down are separate matrices, scaled by
// spec.fp8_scaling); shared_gate stays bf16.
#include <cstdint>

#include "core/dtype.hpp"
#include "core/fp8_scaling.hpp"
#include "core/model_config.hpp"
#include "moe/moe_parallel.hpp"

namespace moebench {

struct LayerSpec {
  ModelConfig model;
  DType dtype = DType::bf16;
  int64_t max_tokens = 0;  // forward() is never called with more
  uint64_t seed = 0;
  // bind_weights() will switch among several layers' weights (the model benchmark). An
  // implementation then keeps no private copy of the weights: deriving it again at every bind
  // would add a pass over each layer's weights to every forward, and its memory to the model's.
  bool binds_other_layers = false;
  // This rank's place under expert/tensor parallelism, and its communicator (moe_parallel.hpp).
  MoeParallel parallel;
  Fp8Scaling fp8_scaling = Fp8Scaling::block;  // with dtype fp8: how weights and activations are scaled
};

// Routed experts whose weights are filled on first use. A run of a few tokens reads a few of a
// layer's experts; filling all of them first is most of a large model's time and memory on the
// CPU backend. Whoever reads expert e's rows of w13 / w2 calls ensure(e) first (from one
// thread; filling is not thread-safe).
class LazyExperts {
 public:
  virtual ~LazyExperts() = default;
  virtual void ensure(int expert) const = 0;
};

struct LayerWeights {
  const void* w13 = nullptr;
  const void* w2 = nullptr;
  const void* shared_w13 = nullptr;
  const void* shared_w2 = nullptr;
  const void* shared_gate = nullptr;
  const float* score_bias = nullptr;
  // fp8 only: per expert, fp8_gate_up_scales / fp8_down_scales floats (moe/fp8_weights.hpp).
  const float* w13_scale = nullptr;
  const float* w2_scale = nullptr;
  const float* shared_w13_scale = nullptr;
  const float* shared_w2_scale = nullptr;
  const LazyExperts* lazy = nullptr;  // null: every routed expert is filled
  // Set when the tensors hold one rank's part of the layer only (moe/rank_weights.hpp): w13 and
  // w2 the experts of the rank's expert-parallel group, from its first, each over
  // rank_routed_inter columns of its intermediate dimension; shared_w13 and shared_w2 the
  // shared experts over rank_shared_inter columns. The canonical layout of a layer of that many
  // experts of that width; the rank layers (ep, tp) run it as it is.
  bool rank_part = false;
  int64_t rank_routed_inter = 0, rank_shared_inter = 0;

  void ensure_expert(int expert) const {
    if (lazy) lazy->ensure(expert);
  }
};

struct LayerArgs {
  const void* x = nullptr;
  const float* logits = nullptr;
  void* out = nullptr;
  int64_t num_tokens = 0;
  // The whole batch when this rank runs a slice of it (num_tokens of batch_tokens); 0: the batch
  // is num_tokens. Ranks whose steps must match (fused-ep's exchanges) count them from it.
  int64_t batch_tokens = 0;
};

}  // namespace moebench
