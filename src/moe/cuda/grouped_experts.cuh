#pragma once
// The expert computation `grouped` and `tile-rounded` share, over rows already in expert order
// (MoeStages::rows()): the gate+up grouped GEMM, the gated activation, the down grouped GEMM,
// into MoeStages::expert_out(). Per-expert offsets stay on the device.
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>

#include "moe/cuda/grouped_gemm.cuh"
#include "moe/cuda/moe_stages.cuh"
#include "moe/layer_spec.hpp"

namespace moebench {

class GroupedExperts {
 public:
  GroupedExperts(Backend& backend, const LayerSpec& spec, GroupedGemm::Tilings tilings = GroupedGemm::Tilings::any);

  // Rows of the GEMM tiles for `slots` = tokens x top_k (what tile-rounded rounds to).
  int tile_rows(int64_t slots) const { return gate_up_->tile_rows(slots); }

  // offsets [E+1] on the device; `slots` picks the tiling. The rows in use are `max_rows`, or,
  // when `device_rows` is given, the count it points at (max_rows bounds it).
  void run(MoeStages& stages, const LayerWeights& weights, const int32_t* offsets, int64_t slots, int64_t max_rows,
           const int32_t* device_rows = nullptr);

 private:
  LayerSpec spec_;
  std::unique_ptr<GroupedGemm> gate_up_, down_;
};

}  // namespace moebench
