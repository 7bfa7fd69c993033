// `grouped`: GPU routing and permutation, then one CUTLASS grouped GEMM for gate+up over all
// experts, the gated activation, and one grouped GEMM for down, then the weighted combine.
// Per-expert row counts stay on the device: no host synchronisation, graph-capturable.
#include "core/errors.hpp"
#include "moe/cuda/expert_kernels.cuh"
#include "moe/cuda/grouped_gemm.cuh"
#include "moe/cuda/moe_stages.cuh"
#include "moe/moe_impl.hpp"

namespace moebench {

namespace {

class GroupedMoe : public MoeImpl {
 public:
  explicit GroupedMoe(Backend& backend) : backend_(backend) {}

  void prepare(const LayerSpec& spec, const LayerWeights& weights) override {
    const ModelConfig& m = spec.model;
    spec_ = spec;
    weights_ = weights;
    gate_up_ = std::make_unique<GroupedGemm>(backend_, spec.dtype, m.num_experts, 2 * m.moe_intermediate_size,
                                             m.hidden_size);
    down_ = std::make_unique<GroupedGemm>(backend_, spec.dtype, m.num_experts, m.hidden_size,
                                          m.moe_intermediate_size);
    stages_ = std::make_unique<MoeStages>(backend_, spec, weights);
  }

  void bind_weights(const LayerWeights& weights) override {
    weights_ = weights;
    stages_->bind_weights(weights);
  }

  void forward(const LayerArgs& args) override {
    const ModelConfig& m = spec_.model;
    cudaStream_t stream = stages_->stream();
    stages_->route_and_gather(args);
    const int32_t* offsets = stages_->permutation().offsets();
    const int64_t rows = args.num_tokens * m.top_k;
    gate_up_->run(stages_->rows(), weights_.w13, stages_->gate_up_out(), offsets, rows, stream);
    launch_gated_activation(m.activation, stages_->gate_up_out(), rows, m.moe_intermediate_size, spec_.dtype,
                            stages_->activated(), stream);
    down_->run(stages_->activated(), weights_.w2, stages_->expert_out(), offsets, rows, stream);
    stages_->shared_and_combine(args);
  }

 private:
  Backend& backend_;
  LayerSpec spec_;
  LayerWeights weights_;
  std::unique_ptr<MoeStages> stages_;
  std::unique_ptr<GroupedGemm> gate_up_, down_;
};

}  // namespace

std::unique_ptr<MoeImpl> make_cuda_grouped(Backend& backend) { return std::make_unique<GroupedMoe>(backend); }

}  // namespace moebench
