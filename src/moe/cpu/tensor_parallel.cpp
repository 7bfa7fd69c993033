// The CPU's tensor-parallel layer ("tp"), as SGLang's MoE runs without DeepEP: every rank takes
// the whole batch, runs the routed experts it holds (its ep group's experts, each over its
// moe_tp slice of the intermediate dimension: moe/local_experts.hpp on the CPU reference's
// expert math) and its 1/tp_size slice of the shared experts' intermediate dimension, weights
// and sums those partial outputs in float, and an all-reduce over all ranks completes every
// token's output on every rank. With ep_size 1 that is pure tensor parallelism; with ep_size > 1
// the hybrid of expert and tensor parallelism, each token's rows computed only where its experts
// live.
#include "moe/cpu/rank_layer.hpp"

namespace moebench {

namespace {

class CpuTensorParallel final : public cpu::RankLayer {
 public:
  using RankLayer::RankLayer;

  void prepare(const LayerSpec& spec, const LayerWeights& weights) override {
    prepare_rank(spec, weights, tensor_parallel_experts(spec));
  }

  void forward(const LayerArgs& args) override {
    const ModelConfig& m = spec_.model;
    const MoeParallel& p = spec_.parallel;
    Communicator& c = comm();
    const int W = c.size(), k = m.top_k;
    const int64_t T = args.num_tokens, H = m.hidden_size;
    const int first = p.first_local_expert(m.num_experts), count = p.experts_per_group(m.num_experts);
    const uint16_t* x = static_cast<const uint16_t*>(args.x);

    // "Dispatch" stays on the rank: the rows of the tokens that chose one of its experts.
    const auto dispatch_start = Clock::now();
    const Routing routing = route_tokens(args.logits, T);
    rows_x_.clear();
    row_token_.clear();
    row_weight_.clear();
    row_ids_.clear();
    for (int64_t s = 0; s < T * k; ++s) {
      const int local = routing.expert_ids[size_t(s)] - first;
      if (local < 0 || local >= count) continue;
      rows_x_.insert(rows_x_.end(), x + (s / k) * H, x + (s / k + 1) * H);
      row_token_.push_back(int32_t(s / k));
      row_weight_.push_back(routing.weights[size_t(s)]);
      row_ids_.push_back(local);
    }
    dispatch_ms_ = ms_since(dispatch_start);

    const auto expert_start = Clock::now();
    const int64_t n = int64_t(row_ids_.size());
    rows_y_.resize(rows_x_.size());
    routed_->run(rows_x_.data(), row_ids_.data(), n, rows_y_.data());
    acc_.assign(size_t(T * H), 0.0f);
    add_rows(rows_y_.data(), row_token_.data(), row_weight_.data(), n, acc_.data());
    add_shared(x, T, acc_.data());
    expert_ms_ = ms_since(expert_start);
    expert_rows_ = n;

    const auto combine_start = Clock::now();
    c.all_reduce_sum(acc_.data(), acc_.size());
    write_out(acc_.data(), T, args.out);
    combine_ms_ = ms_since(combine_start);
    // What a ring all-reduce moves per rank (nccl-tests' bus bytes): 2 (n - 1) / n of the data.
    sent_bytes_ = received_bytes_ = 2.0 * double(W - 1) / double(W) * double(acc_.size() * sizeof(float));
  }

 private:
  std::vector<int32_t> row_token_;
  std::vector<float> row_weight_, acc_;
  std::vector<int32_t> row_ids_;
  std::vector<uint16_t> rows_x_, rows_y_;
};

}  // namespace

std::unique_ptr<MoeImpl> make_cpu_tensor_parallel(Backend& backend) {
  return std::make_unique<CpuTensorParallel>(backend);
}

}  // namespace moebench
