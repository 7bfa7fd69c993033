#pragma once
// The expert computation of `fused` above the decode sizes, over rows already in expert order
// (MoeStages::rows()): the gate+up grouped GEMM with the gated activation in its epilogue, so
// the [slots][2I] gate+up product never reaches memory, then the down grouped GEMM into
// MoeStages::expert_out(). The epilogue needs gate and up rows interleaved
// (interleave_gate_up()): a private copy of w13, derived when the weights are bound (untimed).
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>

#include "backend/backend.hpp"
#include "moe/cuda/grouped_gemm.cuh"
#include "moe/cuda/moe_stages.cuh"
#include "moe/layer_spec.hpp"

namespace moebench {

class FusedExperts {
 public:
  // Throws InputError for sizes the CUTLASS kernels cannot take (not multiples of 8).
  FusedExperts(Backend& backend, const LayerSpec& spec, const LayerWeights& weights, cudaStream_t stream);

  // Derives the interleaved copy of weights.w13: one pass over it, enqueued on `stream`.
  void bind_weights(const LayerWeights& weights, cudaStream_t stream);

  // offsets [E+1] on the device; `slots` = tokens x top_k picks the tiling.
  void run(MoeStages& stages, const int32_t* offsets, int64_t slots);

 private:
  LayerSpec spec_;
  const void* w2_ = nullptr;
  DeviceBuffer w13_interleaved_;
  std::unique_ptr<GroupedGemm> gate_up_, down_;
};

}  // namespace moebench
