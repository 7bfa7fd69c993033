#include "moe/cuda/grouped_experts.cuh"

#include "moe/cuda/expert_kernels.cuh"

namespace moebench {

GroupedExperts::GroupedExperts(Backend& backend, const LayerSpec& spec, GroupedGemm::Tilings tilings) : spec_(spec) {
  const ModelConfig& m = spec.model;
  gate_up_ = std::make_unique<GroupedGemm>(backend, spec.dtype, m.num_experts, 2 * m.moe_intermediate_size,
                                           m.hidden_size, std::nullopt, tilings);
  down_ = std::make_unique<GroupedGemm>(backend, spec.dtype, m.num_experts, m.hidden_size, m.moe_intermediate_size,
                                        std::nullopt, tilings);
}

void GroupedExperts::run(MoeStages& stages, const LayerWeights& weights, const int32_t* offsets, int64_t slots,
                         int64_t max_rows, const int32_t* device_rows) {
  const ModelConfig& m = spec_.model;
  cudaStream_t stream = stages.stream();
  gate_up_->run(stages.rows(), weights.w13, stages.gate_up_out(), offsets, slots, stream);
  launch_gated_activation(m.activation, stages.gate_up_out(), max_rows, m.moe_intermediate_size, spec_.dtype,
                          stages.activated(), stream, device_rows);
  down_->run(stages.activated(), weights.w2, stages.expert_out(), offsets, slots, stream);
}

}  // namespace moebench
