// The GPU's expert-parallel layer ("ep"): the CPU's ep (src/moe/cpu/expert_parallel.cpp) on
// NCCL, with the same row order and counts (moe/expert_dispatch.hpp plans both). Each rank routes its own slice of the batch (on
// the host), gathers the rows for every peer into one buffer (peer after peer, expert after
// expert, a row to each of the expert group's moe_tp ranks), exchanges the counts, then the
// rows (NCCL grouped send/recv), runs what arrived through its experts (moe/local_experts.hpp on
// the grouped GEMM path), sends the rows back, and sums them with its routing weights in float,
// with the shared experts run whole for its own tokens.
#include "moe/cuda/permute.cuh"
#include "moe/cuda/rank_layer.hpp"
#include "moe/cuda/rank_rows.cuh"
#include "moe/expert_dispatch.hpp"

namespace moebench {

namespace {

class CudaExpertParallel final : public cuda::RankLayer {
 public:
  using RankLayer::RankLayer;

  void prepare(const LayerSpec& spec, const LayerWeights& weights) override {
    prepare_rank(spec, weights, expert_parallel_experts(spec));
  }

  void forward(const LayerArgs& args) override {
    const ModelConfig& m = spec_.model;
    const MoeParallel& p = spec_.parallel;
    Communicator& c = comm();
    const int W = c.size(), me = c.rank(), k = m.top_k;
    const int per_group = p.experts_per_group(m.num_experts);
    const int64_t T = args.num_tokens, H = m.hidden_size;
    const size_t row_bytes = size_t(H) * size_t(dtype_bytes(spec_.dtype));

    mark(kStart);
    const Routing routing = route_tokens(args.logits, T);
    const DispatchPlan out = plan_dispatch(routing, p, W);
    const int64_t total_send = int64_t(out.send_slots.size());
    reserve(send_x_, size_t(total_send) * row_bytes);
    gather_rows(args.x, upload(send_slots_, out.send_slots), k, total_send, H, spec_.dtype, send_x_.get(), stream_);

    const ExchangeLayout count_layout =
        packed_layout(std::vector<size_t>(size_t(W), size_t(per_group) * sizeof(int64_t)));
    const int64_t* send_counts_dev = upload(send_counts_, out.send_counts);
    reserve(recv_counts_, out.send_counts.size() * sizeof(int64_t));
    c.all_to_all_v(send_counts_dev, count_layout, recv_counts_.get(), count_layout);
    std::vector<int64_t> recv_counts(out.send_counts.size());
    backend_.copy_to_host(recv_counts.data(), recv_counts_.get(), recv_counts.size() * sizeof(int64_t));
    const ReceivePlan in = plan_receive(recv_counts, W, per_group);
    const int64_t total_recv = int64_t(in.local_ids.size());
    std::vector<size_t> send_bytes(static_cast<size_t>(W)), recv_bytes(static_cast<size_t>(W));
    for (int peer = 0; peer < W; ++peer) {
      send_bytes[size_t(peer)] = out.send_rows[size_t(peer)] * row_bytes;
      recv_bytes[size_t(peer)] = in.recv_rows[size_t(peer)] * row_bytes;
    }
    const ExchangeLayout send_layout = packed_layout(send_bytes), recv_layout = packed_layout(recv_bytes);
    reserve(recv_x_, size_t(total_recv) * row_bytes);
    c.all_to_all_v(send_x_.get(), send_layout, recv_x_.get(), recv_layout);
    mark(kDispatched);

    reserve(recv_y_, size_t(total_recv) * row_bytes);
    routed_->run(recv_x_.get(), in.local_ids.data(), total_recv, recv_y_.get());
    reserve(acc_, size_t(T * H) * sizeof(float));
    backend_.fill_bytes(acc_.get(), 0, size_t(T * H) * sizeof(float));
    add_shared(args.x, T, acc_.as<float>());
    expert_rows_ = total_recv;
    mark(kComputed);

    reserve(back_y_, size_t(total_send) * row_bytes);
    c.all_to_all_v(recv_y_.get(), recv_layout, back_y_.get(), send_layout);
    accumulate_rows(back_y_.get(), upload(row_token_, out.row_token), upload(row_weight_, out.row_weight), total_send, H,
                    spec_.dtype, acc_.as<float>(), stream_);
    round_to_dtype(acc_.as<float>(), T * H, spec_.dtype, args.out, stream_);
    mark(kCombined);

    const ExchangedBytes bytes = exchanged_bytes(out, in, me, per_group, row_bytes);
    sent_bytes_ = bytes.sent;
    received_bytes_ = bytes.received;
  }

 private:
  DeviceBuffer send_slots_, send_counts_, recv_counts_, send_x_, recv_x_, recv_y_, back_y_, acc_, row_token_,
      row_weight_;
};

}  // namespace

std::unique_ptr<MoeImpl> make_cuda_expert_parallel(Backend& backend) {
  return std::make_unique<CudaExpertParallel>(backend);
}

}  // namespace moebench
