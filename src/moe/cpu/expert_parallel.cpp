// The CPU's expert-parallel layer ("ep"), as DeepEP-style dispatch/combine runs it: each rank
// routes its own slice of the batch, sends every (token, expert) row to the ranks holding that
// expert (its ep group: one rank under pure EP, each of the group's moe_tp ranks when experts are
// also split by intermediate dimension), the receivers run their experts on what arrived
// (moe/local_experts.hpp: the CPU reference's expert math), send the rows back (combine), and
// the sender sums them with its routing weights, adding the shared experts, which every rank
// runs whole for its own tokens. Rows travel in the layer dtype, as SGLang's and DeepEP's do.
//
// Per forward: one exchange of row counts (ranks x local experts), one of rows, one back, in the
// order moe/expert_dispatch.hpp plans for both backends.
#include <algorithm>

#include "moe/cpu/rank_layer.hpp"
#include "moe/expert_dispatch.hpp"

namespace moebench {

namespace {

class CpuExpertParallel final : public cpu::RankLayer {
 public:
  using RankLayer::RankLayer;

  void prepare(const LayerSpec& spec, const LayerWeights& weights) override {
    prepare_rank(spec, weights, expert_parallel_experts(spec));
  }

  void forward(const LayerArgs& args) override {
    const ModelConfig& m = spec_.model;
    const MoeParallel& p = spec_.parallel;
    Communicator& c = comm();
    const int W = c.size(), me = c.rank();
    const int per_group = p.experts_per_group(m.num_experts);
    const int64_t T = args.num_tokens, H = m.hidden_size;
    const size_t row_bytes = size_t(H) * sizeof(uint16_t);
    const uint16_t* x = static_cast<const uint16_t*>(args.x);

    // Dispatch: route, order the rows by expert, send each expert's rows to its group's ranks.
    const auto dispatch_start = Clock::now();
    const Routing routing = route_tokens(args.logits, T);
    const DispatchPlan out = plan_dispatch(routing, p, W);
    const size_t total_send = out.send_slots.size();
    send_x_.resize(total_send * size_t(H));
    for (size_t at = 0; at < total_send; ++at)
      std::copy_n(x + int64_t(out.row_token[at]) * H, H, send_x_.data() + at * size_t(H));
    const ExchangeLayout count_layout =
        packed_layout(std::vector<size_t>(size_t(W), size_t(per_group) * sizeof(int64_t)));
    recv_counts_.resize(size_t(W) * size_t(per_group));
    c.all_to_all_v(out.send_counts.data(), count_layout, recv_counts_.data(), count_layout);
    const ReceivePlan in = plan_receive(recv_counts_, W, per_group);
    const size_t total_recv = in.local_ids.size();
    std::vector<size_t> send_bytes(static_cast<size_t>(W)), recv_bytes(static_cast<size_t>(W));
    for (int peer = 0; peer < W; ++peer) {
      send_bytes[size_t(peer)] = out.send_rows[size_t(peer)] * row_bytes;
      recv_bytes[size_t(peer)] = in.recv_rows[size_t(peer)] * row_bytes;
    }
    const ExchangeLayout send_layout = packed_layout(send_bytes), recv_layout = packed_layout(recv_bytes);
    recv_x_.resize(total_recv * size_t(H));
    c.all_to_all_v(send_x_.data(), send_layout, recv_x_.data(), recv_layout);
    dispatch_ms_ = ms_since(dispatch_start);

    // Expert compute: the rows that arrived, and the shared experts of this rank's own tokens.
    const auto expert_start = Clock::now();
    recv_y_.resize(recv_x_.size());
    routed_->run(recv_x_.data(), in.local_ids.data(), int64_t(total_recv), recv_y_.data());
    acc_.assign(size_t(T * H), 0.0f);
    add_shared(x, T, acc_.data());
    expert_ms_ = ms_since(expert_start);
    expert_rows_ = int64_t(total_recv);

    // Combine: the rows back to their senders, then the weighted sum.
    const auto combine_start = Clock::now();
    back_y_.resize(send_x_.size());
    c.all_to_all_v(recv_y_.data(), recv_layout, back_y_.data(), send_layout);
    add_rows(back_y_.data(), out.row_token.data(), out.row_weight.data(), int64_t(total_send), acc_.data());
    write_out(acc_.data(), T, args.out);
    combine_ms_ = ms_since(combine_start);

    // Bytes that crossed to or from another rank: counts, rows out and their results back.
    const ExchangedBytes bytes = exchanged_bytes(out, in, me, per_group, row_bytes);
    sent_bytes_ = bytes.sent;
    received_bytes_ = bytes.received;
  }

 private:
  std::vector<int64_t> recv_counts_;
  std::vector<float> acc_;
  std::vector<uint16_t> send_x_, recv_x_, recv_y_, back_y_;
};

}  // namespace

std::unique_ptr<MoeImpl> make_cpu_expert_parallel(Backend& backend) {
  return std::make_unique<CpuExpertParallel>(backend);
}

}  // namespace moebench
