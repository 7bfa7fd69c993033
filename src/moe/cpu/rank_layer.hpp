#pragma once
// What the CPU's expert-parallel ("ep") and tensor-parallel ("tp") layers share around their
// exchanges: the rank's routed experts and shared experts (moe/local_experts.hpp, on the CPU
// reference's expert math), routing, the weighted sum of expert rows in float, the output in
// the layer dtype, the communicator (the run's, or one of this rank alone when the layer runs
// on one device), and the figures of the last forward: time per phase on the host clock
// (dispatch, expert compute, combine), bytes sent to and received from other ranks, and the
// expert rows this rank computed.
#include <chrono>
#include <memory>

#include "dist/communicator.hpp"
#include "moe/local_experts.hpp"
#include "routing/routing.hpp"

namespace moebench::cpu {

class RankLayer : public MoeImpl {
 public:
  explicit RankLayer(Backend& backend) : backend_(backend) {}
  void bind_weights(const LayerWeights& weights) override;
  // Every forward exchanges counts first: nothing to record.
  bool recordable(int64_t) const override { return false; }
  std::vector<std::pair<std::string, double>> counters() const override;

 protected:
  using Clock = std::chrono::steady_clock;
  // Checks the spec and holds the rank's experts as `held` describes them (moe/local_experts.hpp:
  // expert_parallel_experts or tensor_parallel_experts).
  void prepare_rank(const LayerSpec& spec, const LayerWeights& weights, const RankExperts& held);
  Communicator& comm() { return spec_.parallel.comm ? *spec_.parallel.comm : *own_comm_; }
  Routing route_tokens(const float* logits, int64_t tokens) const;
  // acc[t] += the shared experts' output for tokens x [T][H] (gated where the model gates them).
  void add_shared(const uint16_t* x, int64_t tokens, float* acc);
  // acc[token[i]] += weight[i] * y[i] for n rows of y [n][H] in the layer dtype.
  void add_rows(const uint16_t* y, const int32_t* token, const float* weight, int64_t n, float* acc) const;
  void write_out(const float* acc, int64_t tokens, void* out) const;
  static double ms_since(Clock::time_point start);

  Backend& backend_;
  LayerSpec spec_;
  LayerWeights weights_;
  std::unique_ptr<LocalExperts> routed_, shared_;
  // The last forward's figures.
  double dispatch_ms_ = 0, expert_ms_ = 0, combine_ms_ = 0;
  double sent_bytes_ = 0, received_bytes_ = 0;
  int64_t expert_rows_ = 0;

 private:
  void make_or_bind_experts();

  std::unique_ptr<Communicator> own_comm_;
  RankExperts held_;
  std::vector<float> bias_, shared_gate_;
  std::vector<uint16_t> shared_x_, shared_y_;
  std::vector<int32_t> shared_ids_;
};

}  // namespace moebench::cpu
