// The CPU's expert-parallel layer ("ep"), as DeepEP-style dispatch/combine runs it: each rank
// routes its own slice of the batch, sends every (token, expert) row to the ranks holding that
// expert (its ep group: one rank under pure EP, each of the group's moe_tp ranks when experts are
// also split by intermediate dimension), the receivers run their experts on what arrived
// (moe/local_experts.hpp: the CPU reference's expert math), send the rows back (combine), and
// the sender sums them with its routing weights, adding the shared experts, which every rank
// runs whole for its own tokens. Rows travel in the layer dtype, as SGLang's and DeepEP's do.
//
// Per forward: one exchange of row counts (ranks x local experts), one of rows, one back. Rows
// go peer after peer, within a peer expert after expert, so the receiver knows each row's expert
// from the counts alone. A rank with no tokens, or whose experts get none, exchanges empty parts.
#include <numeric>

#include "moe/cpu/rank_layer.hpp"

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
    const int W = c.size(), me = c.rank(), k = m.top_k, E = m.num_experts;
    const int per_group = p.experts_per_group(E), mtp = p.moe_tp_size();
    const int64_t T = args.num_tokens, H = m.hidden_size;
    const size_t row_bytes = size_t(H) * sizeof(uint16_t);
    const uint16_t* x = static_cast<const uint16_t*>(args.x);

    // Dispatch: route, order the rows by expert, send each expert's rows to its group's ranks.
    const auto dispatch_start = Clock::now();
    const Routing routing = route_tokens(args.logits, T);
    std::vector<int64_t> first(size_t(E) + 1, 0);
    for (int32_t e : routing.expert_ids) ++first[size_t(e) + 1];
    std::partial_sum(first.begin(), first.end(), first.begin());
    std::vector<int64_t> slot_of_row(size_t(T * k));
    {
      std::vector<int64_t> next(first.begin(), first.end() - 1);
      for (int64_t s = 0; s < T * k; ++s) slot_of_row[size_t(next[size_t(routing.expert_ids[size_t(s)])]++)] = s;
    }
    send_counts_.assign(size_t(W) * size_t(per_group), 0);
    std::vector<size_t> send_rows(size_t(W), 0);
    for (int d = 0; d < W; ++d) {
      const int g = d / mtp;
      for (int le = 0; le < per_group; ++le) {
        const int e = g * per_group + le;
        send_counts_[size_t(d * per_group + le)] = first[size_t(e) + 1] - first[size_t(e)];
      }
      send_rows[size_t(d)] = size_t(first[size_t((g + 1) * per_group)] - first[size_t(g * per_group)]);
    }
    const size_t total_send = std::accumulate(send_rows.begin(), send_rows.end(), size_t(0));
    send_x_.resize(total_send * size_t(H));
    row_token_.resize(total_send);
    row_weight_.resize(total_send);
    for (int d = 0, at = 0; d < W; ++d) {
      const int g = d / mtp;
      for (int64_t r = first[size_t(g * per_group)]; r < first[size_t((g + 1) * per_group)]; ++r, ++at) {
        const int64_t s = slot_of_row[size_t(r)];
        std::copy_n(x + (s / k) * H, H, send_x_.data() + size_t(at) * size_t(H));
        row_token_[size_t(at)] = s / k;
        row_weight_[size_t(at)] = routing.weights[size_t(s)];
      }
    }
    const ExchangeLayout count_layout =
        packed_layout(std::vector<size_t>(size_t(W), size_t(per_group) * sizeof(int64_t)));
    recv_counts_.resize(size_t(W) * size_t(per_group));
    c.all_to_all_v(send_counts_.data(), count_layout, recv_counts_.data(), count_layout);
    std::vector<size_t> send_bytes(static_cast<size_t>(W)), recv_bytes(static_cast<size_t>(W));
    size_t total_recv = 0;
    recv_ids_.clear();
    for (int s = 0; s < W; ++s) {
      size_t rows = 0;
      for (int le = 0; le < per_group; ++le) {
        const int64_t n = recv_counts_[size_t(s * per_group + le)];
        recv_ids_.insert(recv_ids_.end(), size_t(n), le);
        rows += size_t(n);
      }
      recv_bytes[size_t(s)] = rows * row_bytes;
      send_bytes[size_t(s)] = send_rows[size_t(s)] * row_bytes;
      total_recv += rows;
    }
    const ExchangeLayout send_layout = packed_layout(send_bytes), recv_layout = packed_layout(recv_bytes);
    recv_x_.resize(total_recv * size_t(H));
    c.all_to_all_v(send_x_.data(), send_layout, recv_x_.data(), recv_layout);
    dispatch_ms_ = ms_since(dispatch_start);

    // Expert compute: the rows that arrived, and the shared experts of this rank's own tokens.
    const auto expert_start = Clock::now();
    recv_y_.resize(recv_x_.size());
    routed_->run(recv_x_.data(), recv_ids_.data(), int64_t(total_recv), recv_y_.data());
    acc_.assign(size_t(T * H), 0.0f);
    add_shared(x, T, acc_.data());
    expert_ms_ = ms_since(expert_start);
    expert_rows_ = int64_t(total_recv);

    // Combine: the rows back to their senders, then the weighted sum.
    const auto combine_start = Clock::now();
    back_y_.resize(send_x_.size());
    c.all_to_all_v(recv_y_.data(), recv_layout, back_y_.data(), send_layout);
    add_rows(back_y_.data(), row_token_.data(), row_weight_.data(), int64_t(total_send), acc_.data());
    write_out(acc_.data(), T, args.out);
    combine_ms_ = ms_since(combine_start);

    // Bytes that crossed to or from another rank: counts, rows out and their results back.
    const double count_bytes = double(per_group * sizeof(int64_t));
    sent_bytes_ = received_bytes_ = 0;
    for (int peer = 0; peer < W; ++peer) {
      if (peer == me) continue;
      sent_bytes_ += count_bytes + double(send_bytes[size_t(peer)] + recv_bytes[size_t(peer)]);
      received_bytes_ += count_bytes + double(recv_bytes[size_t(peer)] + send_bytes[size_t(peer)]);
    }
  }

 private:
  std::vector<int64_t> send_counts_, recv_counts_, row_token_;
  std::vector<float> row_weight_, acc_;
  std::vector<int32_t> recv_ids_;
  std::vector<uint16_t> send_x_, recv_x_, recv_y_, back_y_;
};

}  // namespace

std::unique_ptr<MoeImpl> make_cpu_expert_parallel(Backend& backend) {
  return std::make_unique<CpuExpertParallel>(backend);
}

}  // namespace moebench
