#pragma once
// The TPOT floor of a decode step: every byte the step must read from memory, over the
// measured copy bandwidth. A decode step of a small batch reads each weight it uses once and
// does little arithmetic per byte, so this is what bounds it:
//   attention and norm weights of every layer, the dense MLP layers, each MoE layer's router,
//   shared experts and the routed experts the batch actually uses, the final norm and LM head,
//   the embedding rows of the batch, and the whole KV cache of the batch at its context.
#include <cstdint>
#include <vector>

#include "analysis/parallel_layout.hpp"
#include "core/dtype.hpp"
#include "core/model_config.hpp"

namespace moebench {

struct DecodeStepBytes {
  int64_t weights = 0;          // attention, dense MLP, router, shared experts, norms, LM head, embedding rows
  int64_t routed_experts = 0;   // the experts the batch's routing used, every MoE layer
  int64_t kv_cache = 0;         // keys and values at the step's context
  int64_t total() const { return weights + routed_experts + kv_cache; }
};

// `active_experts`: distinct routed experts the step used, one entry per MoE layer in order;
// `context`: the tokens in the cache per sequence (the step's own included). Under a parallel
// `layout`, what one GPU reads: its part of the weights and of the KV cache (the memory model's
// per-GPU counts), the LM head's vocabulary rows, and 1/tp of the active experts' bytes (each
// GPU holds 1/tp of every expert's weights on average over the ep groups).
DecodeStepBytes decode_step_bytes(const ModelConfig& model, DType dtype, int64_t batch, int64_t context,
                                  const std::vector<int>& active_experts, ParallelLayout layout = {});

// Milliseconds to move `bytes` at `copy_gbps` (device copy bandwidth, GB/s).
double bandwidth_floor_ms(int64_t bytes, double copy_gbps);

}  // namespace moebench
