// `grouped`: GPU routing and permutation, then one CUTLASS grouped GEMM for gate+up over all
// experts, the gated activation, and one grouped GEMM for down, then the weighted combine.
// Per-expert row counts stay on the device: no host synchronisation, graph-capturable.
#include "core/errors.hpp"
#include "moe/cuda/grouped_experts.cuh"
#include "moe/cuda/moe_stages.cuh"
#include "moe/moe_impl.hpp"

namespace moebench {

namespace {

class GroupedMoe : public MoeImpl {
 public:
  explicit GroupedMoe(Backend& backend) : backend_(backend) {}

  void prepare(const LayerSpec& spec, const LayerWeights& weights) override {
    spec_ = spec;
    weights_ = weights;
    experts_ = std::make_unique<GroupedExperts>(backend_, spec);
    stages_ = std::make_unique<MoeStages>(backend_, spec, weights);
  }

  void bind_weights(const LayerWeights& weights) override {
    weights_ = weights;
    stages_->bind_weights(weights);
  }

  void forward(const LayerArgs& args) override {
    const int64_t slots = args.num_tokens * spec_.model.top_k;
    stages_->route_and_gather(args);
    experts_->run(*stages_, weights_, stages_->permutation().offsets(), slots, slots);
    stages_->shared_and_combine(args);
  }

 private:
  Backend& backend_;
  LayerSpec spec_;
  LayerWeights weights_;
  std::unique_ptr<MoeStages> stages_;
  std::unique_ptr<GroupedExperts> experts_;
};

}  // namespace

std::unique_ptr<MoeImpl> make_cuda_grouped(Backend& backend) { return std::make_unique<GroupedMoe>(backend); }

}  // namespace moebench
