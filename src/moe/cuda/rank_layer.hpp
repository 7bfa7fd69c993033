#pragma once
// What the GPU's expert-parallel ("ep") and tensor-parallel ("tp") layers share around their
// exchanges: the rank's routed and shared experts (moe/local_experts.hpp, on the grouped GEMM
// path: CUTLASS Hopper grouped GEMMs), routing (on the host, from the logits copied back: the
// exchange needs the counts on the host anyway), the shared experts' rows and gate, the
// weighted sum in float (rank_rows.cuh), the communicator (the run's NCCL communicator, or one
// of this rank alone when the layer runs on one GPU), and the figures of the last forward: CUDA
// event time per phase (dispatch, expert compute, combine), bytes sent to and received from
// other ranks, and the expert rows this rank computed.
#include <cuda_runtime.h>

#include <memory>

#include "dist/communicator.hpp"
#include "moe/local_experts.hpp"
#include "routing/routing.hpp"

namespace moebench::cuda {

// The communicator a rank layer makes for itself: none when `parallel` brings the run's (null),
// else, for a layer on one GPU with no ranks around it, NCCL with one rank (its own unique id, no
// rendezvous server) on `stream`. A layer of several ranks without theirs is refused.
std::unique_ptr<Communicator> own_communicator(const MoeParallel& parallel, cudaStream_t stream);

class RankLayer : public MoeImpl {
 public:
  explicit RankLayer(Backend& backend);
  ~RankLayer() override;
  void bind_weights(const LayerWeights& weights) override;
  // The counts travel through the host every forward: nothing to record.
  bool recordable(int64_t) const override { return false; }
  // Read after the backend has synchronised (the phase events).
  std::vector<std::pair<std::string, double>> counters() const override;

 protected:
  enum Event { kStart, kDispatched, kComputed, kCombined, kEvents };
  // As cpu::RankLayer::prepare_rank: checks the spec and holds the rank's experts as `held`
  // describes them.
  void prepare_rank(const LayerSpec& spec, const LayerWeights& weights, const RankExperts& held);
  Communicator& comm() { return spec_.parallel.comm ? *spec_.parallel.comm : *own_comm_; }
  Routing route_tokens(const float* logits, int64_t tokens);
  // acc[t] += the shared experts' output for tokens x [T][H] on the device.
  void add_shared(const void* x, int64_t tokens, float* acc);
  void mark(Event event);
  // `buffer` holds at least `bytes` (grown, contents lost).
  void reserve(DeviceBuffer& buffer, size_t bytes);
  template <typename T>
  T* upload(DeviceBuffer& buffer, const std::vector<T>& values) {
    reserve(buffer, values.size() * sizeof(T));
    backend_.copy_to_device(buffer.get(), values.data(), values.size() * sizeof(T));
    return buffer.as<T>();
  }

  Backend& backend_;
  cudaStream_t stream_;
  LayerSpec spec_;
  LayerWeights weights_;
  std::unique_ptr<LocalExperts> routed_, shared_;
  double sent_bytes_ = 0, received_bytes_ = 0;
  int64_t expert_rows_ = 0;

 private:
  void make_or_bind_experts();

  std::unique_ptr<Communicator> own_comm_;
  RankExperts held_;
  std::vector<float> bias_, logits_host_;
  cudaEvent_t events_[kEvents] = {};
  DeviceBuffer shared_slots_, shared_x_, shared_y_, shared_token_, shared_weight_;
};

}  // namespace moebench::cuda
