// `fused`: the fewest passes over memory we have built. Decode-sized batches (up to
// kMaxSmallBatchTokens tokens) skip the permutation, the gather and the GEMM tiles: routing,
// one kernel that streams each routed expert's gate/up weights once and applies the activation,
// then for up to kDownCombineMaxTokens tokens one that streams the down weights and sums the
// weighted rows of each token into the output, for more tokens one that streams each expert's
// down weights once and the weighted combine (moe/cuda/small_batch.cuh). Shared experts, where
// the config has them, are added in the sum or the combine.
// Larger batches run the permutation and gather of `grouped`, then FusedExperts: the gate+up
// grouped GEMM with the gated activation in its epilogue (over a private copy of w13 with gate
// and up rows interleaved; on the swapped tiles too, below 640 rows per expert), the down
// grouped GEMM, and the weighted combine. Where one prepared
// implementation serves several layers (LayerSpec::binds_other_layers, the model benchmark),
// it keeps no such copy and runs `grouped` there, as it does for intermediate sizes that are
// not multiples of 64. The weighted scatter in the second GEMM's epilogue and the gather in
// the first GEMM's A loads are not built (docs/PERF.md says why).
// No host synchronisation: graph-capturable.
#include <algorithm>
#include <vector>

#include "core/errors.hpp"
#include "moe/cuda/fused_experts.cuh"
#include "moe/cuda/moe_stages.cuh"
#include "moe/cuda/small_batch.cuh"
#include "moe/moe_impl.hpp"

namespace moebench {

std::unique_ptr<MoeImpl> make_cuda_grouped(Backend& backend);

namespace {

// Measured on an H100 (docs/PERF.md): the streaming kernels beat the grouped GEMMs at 1 token,
// tie at 8 and lose at 32, where their per-token register passes become the bottleneck.
constexpr int64_t kMaxSmallBatchTokens = 8;
// Measured on an H100 (docs/PERF.md, 2026-11-24): down+combine in one pass, with the chained
// launches, took the qwen3-30b-a3b decode step at batch 1 from 4.56 to 4.32 ms, but at 8 tokens
// its per-(slot, vector) dot products lost to the per-expert down kernel + combine (mixtral-8x7b
// 1.41 vs 0.88 ms, whose expert rows are 14336 long).
constexpr int64_t kDownCombineMaxTokens = 2;

class FusedMoe : public MoeImpl {
 public:
  explicit FusedMoe(Backend& backend) : backend_(backend) {}

  void prepare(const LayerSpec& spec, const LayerWeights& weights) override {
    const ModelConfig& m = spec.model;
    if (m.hidden_size % 8 != 0 || m.moe_intermediate_size % 8 != 0)
      throw InputError("fused: hidden and intermediate sizes must be multiples of 8 (16-byte loads); use --impl naive");
    spec_ = spec;
    weights_ = weights;
    // The gated epilogue takes whole 128-row blocks of interleaved gate/up rows: every preset's
    // intermediate size is a multiple of 64.
    const bool gated_epilogue = 2 * m.moe_intermediate_size % GroupedGemm::kGatedBlock == 0;
    if (spec.max_tokens > kMaxSmallBatchTokens && (spec.binds_other_layers || !gated_epilogue)) {
      grouped_ = make_cuda_grouped(backend_);
      grouped_->prepare(spec, weights);
    } else if (spec.max_tokens > kMaxSmallBatchTokens) {
      large_stages_ = std::make_unique<MoeStages>(backend_, spec, weights, 0, MoeStages::GateUpOut::none);
      experts_ = std::make_unique<FusedExperts>(backend_, spec, weights, large_stages_->stream());
    }
    // The small path's workspaces: slot s's activated and expert output rows are row s.
    LayerSpec small = spec;
    small.max_tokens = std::min(spec.max_tokens, kMaxSmallBatchTokens);
    stages_ = std::make_unique<MoeStages>(backend_, small, weights, 0, MoeStages::GateUpOut::none);
    std::vector<int32_t> identity(static_cast<size_t>(small.max_tokens * m.top_k));
    for (size_t s = 0; s < identity.size(); ++s) identity[s] = int32_t(s);
    slot_rows_ = DeviceBuffer(backend_, identity.size() * sizeof(int32_t));
    backend_.copy_to_device(slot_rows_.get(), identity.data(), identity.size() * sizeof(int32_t));
  }

  void bind_weights(const LayerWeights& weights) override {
    weights_ = weights;
    stages_->bind_weights(weights);
    if (grouped_) grouped_->bind_weights(weights);
    if (experts_) {
      large_stages_->bind_weights(weights);
      experts_->bind_weights(weights, large_stages_->stream());
    }
  }

  void forward(const LayerArgs& args) override {
    if (args.num_tokens > kMaxSmallBatchTokens) {
      if (grouped_) return grouped_->forward(args);
      large_stages_->route_and_gather(args);
      experts_->run(*large_stages_, large_stages_->permutation().offsets(), args.num_tokens * spec_.model.top_k);
      large_stages_->shared_and_combine(args);
      return;
    }
    const ModelConfig& m = spec_.model;
    cudaStream_t stream = stages_->stream();
    const int64_t slots = args.num_tokens * m.top_k;
    stages_->select_experts(args);
    small_batch_gate_up(args.x, stages_->expert_ids(), slots, m.top_k, weights_.w13, m.hidden_size,
                        m.moe_intermediate_size, spec_.dtype, m.activation, stages_->activated(), stream);
    if (args.num_tokens <= kDownCombineMaxTokens) {
      const MoeStages::SharedOutput shared = stages_->shared_experts(args);
      small_batch_down_combine(stages_->activated(), stages_->expert_ids(), stages_->route_weights(),
                               args.num_tokens, m.top_k, weights_.w2, m.hidden_size, m.moe_intermediate_size,
                               spec_.dtype, shared.out, shared.gate_logits, args.out, stream);
      return;
    }
    small_batch_down(stages_->activated(), stages_->expert_ids(), slots, m.top_k, weights_.w2, m.hidden_size,
                     m.moe_intermediate_size, spec_.dtype, stages_->expert_out(), stream);
    stages_->shared_and_combine(args, slot_rows_.as<int32_t>());
  }

 private:
  Backend& backend_;
  LayerSpec spec_;
  LayerWeights weights_;
  std::unique_ptr<MoeStages> stages_;
  // Batches above kMaxSmallBatchTokens: the fused experts with their own stages, or, for a
  // model's layers, `grouped`.
  std::unique_ptr<MoeStages> large_stages_;
  std::unique_ptr<FusedExperts> experts_;
  std::unique_ptr<MoeImpl> grouped_;
  DeviceBuffer slot_rows_;  // the identity: slot s's expert output is row s
};

}  // namespace

std::unique_ptr<MoeImpl> make_cuda_fused(Backend& backend) { return std::make_unique<FusedMoe>(backend); }

}  // namespace moebench
