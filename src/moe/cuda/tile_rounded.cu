// `tile-rounded`: `grouped` with seed 004's tile-aware token rounding (SonicMoE). After routing,
// each expert's token count is rounded to a multiple of the grouped GEMM's row tile by dropping
// its weakest or adding its strongest assignments (moe/cuda/tile_rounding.cuh), so no tile
// multiplies padding rows. A different function from exact top-k: it is verified against the
// CPU's rounding of the same routing (routing/tile_rounding.hpp), and reports the padding saved
// and the assignments changed. No host synchronisation: graph-capturable.
#include <cmath>

#include "moe/cuda/grouped_experts.cuh"
#include "moe/cuda/moe_stages.cuh"
#include "moe/cuda/tile_rounding.cuh"
#include "moe/moe_impl.hpp"

namespace moebench {

namespace {

class TileRoundedMoe : public MoeImpl {
 public:
  explicit TileRoundedMoe(Backend& backend) : backend_(backend) {}

  void prepare(const LayerSpec& spec, const LayerWeights& weights) override {
    const ModelConfig& m = spec.model;
    spec_ = spec;
    weights_ = weights;
    // Rounded counts leave no tile padding for the swapped tiles to save, and the 256-row tiles
    // ran such rows faster (PERF.md).
    experts_ = std::make_unique<GroupedExperts>(backend_, spec, GroupedGemm::Tilings::rows_only);
    const int max_tile = GroupedGemm::kLargeTileRows;
    rounder_ = std::make_unique<TileRounder>(backend_, m, spec.max_tokens, max_tile);
    stages_ = std::make_unique<MoeStages>(backend_, spec, weights,
                                          TileRounder::max_added_rows(m.num_experts, spec.max_tokens, max_tile));
  }

  void bind_weights(const LayerWeights& weights) override {
    weights_ = weights;
    stages_->bind_weights(weights);
  }

  int routing_tile_rows(int64_t num_tokens) const override {
    return experts_->tile_rows(num_tokens * spec_.model.top_k);
  }

  void forward(const LayerArgs& args) override {
    const ModelConfig& m = spec_.model;
    cudaStream_t stream = stages_->stream();
    const int64_t slots = args.num_tokens * m.top_k;
    const int tile = routing_tile_rows(args.num_tokens);
    stages_->route(args);
    rounder_->round(args.logits, stages_->expert_ids(), stages_->route_weights(), stages_->permutation(),
                    args.num_tokens, tile, stream);
    // Row counts live on the device; the host passes upper bounds for this batch (kernels are
    // sized by them), and the slot count to the GEMMs, whose tiling choice must be the one the
    // rounding used.
    const int64_t max_rows = slots + TileRounder::max_added_rows(m.num_experts, args.num_tokens, tile);
    const int32_t* rows_in_use = rounder_->rows_in_use();
    gather_rows(args.x, rounder_->row_tokens(), /*top_k=*/1, max_rows, m.hidden_size, spec_.dtype, stages_->rows(),
                stream, rows_in_use);
    experts_->run(*stages_, weights_, rounder_->offsets(), slots, max_rows, rows_in_use);
    stages_->shared_and_combine(args, rounder_->slot_rows(), rounder_->added_rows());
  }

  std::vector<std::pair<std::string, double>> counters() const override {
    const RoundingStats s = rounder_->stats();
    return {{"padding_rows_before", double(s.padding_rows_before)},
            {"padding_rows_after", double(s.padding_rows_after)},
            {"assignments_dropped", double(s.dropped)},
            {"assignments_added", double(s.added)}};
  }

 private:
  Backend& backend_;
  LayerSpec spec_;
  LayerWeights weights_;
  std::unique_ptr<MoeStages> stages_;
  std::unique_ptr<GroupedExperts> experts_;
  std::unique_ptr<TileRounder> rounder_;
};

}  // namespace

std::unique_ptr<MoeImpl> make_cuda_tile_rounded(Backend& backend) { return std::make_unique<TileRoundedMoe>(backend); }

}  // namespace moebench
