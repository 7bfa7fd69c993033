#include "moe/cuda/fused_experts.cuh"

#include "moe/cuda/expert_kernels.cuh"

namespace moebench {

FusedExperts::FusedExperts(Backend& backend, const LayerSpec& spec, const LayerWeights& weights,
                           cudaStream_t stream)
    : spec_(spec) {
  const ModelConfig& m = spec.model;
  const int64_t I = m.moe_intermediate_size, H = m.hidden_size;
  gate_up_ = std::make_unique<GroupedGemm>(backend, spec.dtype, m.num_experts, 2 * I, H, m.activation);
  down_ = std::make_unique<GroupedGemm>(backend, spec.dtype, m.num_experts, H, I);
  w13_interleaved_ = DeviceBuffer(backend, size_t(m.num_experts) * size_t(2 * I * H) * size_t(dtype_bytes(spec.dtype)));
  bind_weights(weights, stream);
}

void FusedExperts::bind_weights(const LayerWeights& weights, cudaStream_t stream) {
  const ModelConfig& m = spec_.model;
  interleave_gate_up(weights.w13, w13_interleaved_.get(), m.num_experts, m.moe_intermediate_size, m.hidden_size,
                     stream);
  w2_ = weights.w2;
}

void FusedExperts::run(MoeStages& stages, const int32_t* offsets, int64_t slots) {
  cudaStream_t stream = stages.stream();
  gate_up_->run(stages.rows(), w13_interleaved_.get(), stages.activated(), offsets, slots, stream);
  down_->run(stages.activated(), w2_, stages.expert_out(), offsets, slots, stream);
}

}  // namespace moebench
