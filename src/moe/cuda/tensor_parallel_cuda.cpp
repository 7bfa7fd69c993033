// The GPU's tensor-parallel layer ("tp"): the CPU's tp (src/moe/cpu/tensor_parallel.cpp) on
// NCCL. Every rank takes the whole batch, gathers the rows of the tokens that chose one of its
// ep group's experts, runs them over its moe_tp slice (moe/local_experts.hpp on the grouped GEMM
// path) and its 1/tp_size slice of the shared experts, sums the partial outputs in float, and an
// NCCL all-reduce over all ranks completes every token's output on every rank.
#include "moe/cuda/permute.cuh"
#include "moe/cuda/rank_layer.hpp"
#include "moe/cuda/rank_rows.cuh"

namespace moebench {

namespace {

class CudaTensorParallel final : public cuda::RankLayer {
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
    const size_t row_bytes = size_t(H) * size_t(dtype_bytes(spec_.dtype));

    mark(kStart);
    const Routing routing = route_tokens(args.logits, T);
    std::vector<int32_t> slots, ids, token;
    std::vector<float> weight;
    for (int64_t s = 0; s < T * k; ++s) {
      const int local = routing.expert_ids[size_t(s)] - first;
      if (local < 0 || local >= count) continue;
      slots.push_back(int32_t(s));
      ids.push_back(local);
      token.push_back(int32_t(s / k));
      weight.push_back(routing.weights[size_t(s)]);
    }
    const int64_t n = int64_t(slots.size());
    reserve(rows_x_, size_t(n) * row_bytes);
    gather_rows(args.x, upload(slots_, slots), k, n, H, spec_.dtype, rows_x_.get(), stream_);
    mark(kDispatched);

    reserve(rows_y_, size_t(n) * row_bytes);
    routed_->run(rows_x_.get(), ids.data(), n, rows_y_.get());
    reserve(acc_, size_t(T * H) * sizeof(float));
    backend_.fill_bytes(acc_.get(), 0, size_t(T * H) * sizeof(float));
    accumulate_rows(rows_y_.get(), upload(token_, token), upload(weight_, weight), n, H, spec_.dtype,
                    acc_.as<float>(), stream_);
    add_shared(args.x, T, acc_.as<float>());
    expert_rows_ = n;
    mark(kComputed);

    c.all_reduce_sum(acc_.as<float>(), size_t(T * H));
    round_to_dtype(acc_.as<float>(), T * H, spec_.dtype, args.out, stream_);
    mark(kCombined);
    // What a ring all-reduce moves per rank (nccl-tests' bus bytes): 2 (n - 1) / n of the data.
    sent_bytes_ = received_bytes_ = 2.0 * double(W - 1) / double(W) * double(T * H) * sizeof(float);
  }

 private:
  DeviceBuffer slots_, rows_x_, rows_y_, acc_, token_, weight_;
};

}  // namespace

std::unique_ptr<MoeImpl> make_cuda_tensor_parallel(Backend& backend) {
  return std::make_unique<CudaTensorParallel>(backend);
}

}  // namespace moebench
