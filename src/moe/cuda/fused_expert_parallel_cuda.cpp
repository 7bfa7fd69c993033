// The GPU's fused expert-parallel layer ("fused-ep"): `ep`'s layer with its exchanges done by
// kernels that write straight into the peers' GPU memory (NCCL's device API: symmetric windows,
// load/store over NVLink; dist/fused_exchange.cuh), so that nothing goes through the host: the
// routing runs on the device (MoeStages), the rows that arrive are ordered by expert on the
// device, the local experts run as grouped GEMMs whose row counts stay on the device, and the
// layer is recorded as a CUDA graph like the one-GPU implementations.
//
// A rank's slice of the batch goes in chunks of at most kChunk tokens (every rank runs the same
// number of exchanges, counted from the whole batch, with an empty chunk where its slice is
// shorter): per chunk, routing, dispatch, the experts on what arrived, the return to the
// sources, and the weighted sum with the shared experts (run whole for the rank's own tokens,
// as in `ep`). The windows are sized for one chunk, so memory does not grow with the batch.
// Each phase's time is the sum over the chunks of its CUDA event spans.
#include <cuda_runtime.h>

#include <algorithm>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "backend/cuda_backend.hpp"
#include "backend/cuda_check.hpp"
#include "core/errors.hpp"
#include "dist/fused_exchange.cuh"
#include "dist/nccl_windows.hpp"
#include "moe/cuda/grouped_experts.cuh"
#include "moe/cuda/moe_stages.cuh"
#include "moe/cuda/rank_layer.hpp"
#include "moe/local_experts.hpp"

namespace moebench {

std::unique_ptr<MoeImpl> make_cuda_grouped(Backend& backend);

namespace {

constexpr int64_t kChunk = 1024;  // tokens per rank per exchange

class CudaFusedExpertParallel final : public MoeImpl {
 public:
  explicit CudaFusedExpertParallel(Backend& backend) : backend_(backend), stream_(cuda_stream(backend)) {}
  ~CudaFusedExpertParallel() override {
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
  }

  void prepare(const LayerSpec& spec, const LayerWeights& weights) override {
    check_rank_layer_spec(spec, "fused-ep");
    spec_ = spec;
    own_comm_ = cuda::own_communicator(spec.parallel, stream_);
    Communicator& c = comm();
    const ModelConfig& m = spec.model;
    const MoeParallel& p = spec.parallel;

    shape_.world = c.size();
    shape_.rank = c.rank();
    shape_.moe_tp = p.moe_tp_size();
    shape_.per_group = p.experts_per_group(m.num_experts);
    shape_.top_k = m.top_k;
    shape_.hidden = m.hidden_size;
    shape_.chunk = std::min(kChunk, std::max<int64_t>(spec.max_tokens, 1));
    shape_.dtype = spec.dtype;
    windows_ = std::make_unique<NcclWindows>(
        c, std::vector<size_t>{shape_.rows_bytes(), shape_.meta_bytes(), shape_.counts_bytes(), shape_.returned_bytes()},
        kFusedExchangeCtas);
    w_ = {windows_->window(0), windows_->window(1), windows_->window(2), windows_->window(3),
          windows_->local(0),  windows_->local(1),  windows_->local(2),  windows_->local(3)};

    // The rank's experts as their own layer; the grouped GEMMs run them on rows in expert order.
    held_ = expert_parallel_experts(spec);
    held_.routed_rows = 1;  // LocalExperts' own implementation is not used here
    routed_ = std::make_unique<LocalExperts>(backend_, make_cuda_grouped, spec, routed_expert_slice(spec, weights, nullptr, held_),
                                             held_.routed_rows);
    capacity_ = int64_t(shape_.world) * shape_.slot_capacity();
    if (!routed_->empty()) {
      LayerSpec local = routed_->layer_spec();
      local.max_tokens = capacity_;
      local_stages_ = std::make_unique<MoeStages>(backend_, local, routed_->layer_weights());
      grouped_ = std::make_unique<GroupedExperts>(backend_, local);
    } else {
      empty_out_ = DeviceBuffer(backend_, size_t(capacity_) * shape_.row_bytes());
      backend_.fill_bytes(empty_out_.get(), 0, empty_out_.bytes());
    }
    LayerSpec chunk = spec;
    chunk.max_tokens = shape_.chunk;
    chunk.parallel = MoeParallel{};
    stages_ = std::make_unique<MoeStages>(backend_, chunk, weights, 0, MoeStages::GateUpOut::none);
    offsets_ = DeviceBuffer(backend_, size_t(shape_.per_group + 1) * sizeof(int32_t));
    cursor_ = DeviceBuffer(backend_, size_t(shape_.per_group) * sizeof(int32_t));
    origin_ = DeviceBuffer(backend_, size_t(capacity_) * sizeof(int32_t));
    stats_ = DeviceBuffer(backend_, kFusedStats * sizeof(int64_t));
    weights_ = weights;
  }

  void bind_weights(const LayerWeights& weights) override {
    weights_ = weights;
    routed_->bind(routed_expert_slice(spec_, weights, nullptr, held_));
    stages_->bind_weights(weights);
    if (local_stages_) local_stages_->bind_weights(routed_->layer_weights());
  }

  bool recordable(int64_t) const override { return true; }

  void forward(const LayerArgs& args) override {
    const ModelConfig& m = spec_.model;
    const int64_t T = args.num_tokens, H = m.hidden_size, E = m.num_experts;
    const int64_t batch = args.batch_tokens > 0 ? args.batch_tokens : T;
    const int64_t largest = largest_part(batch, shape_.world);  // the longest slice of any rank
    if (T > largest || largest > spec_.max_tokens)
      throw std::invalid_argument(fmt::format("fused-ep forward(): {} tokens of a batch of {}, prepared for {} per rank",
                                              T, batch, spec_.max_tokens));
    const int64_t chunks = (largest + shape_.chunk - 1) / shape_.chunk;
    const size_t elem = size_t(dtype_bytes(spec_.dtype));
    ensure_events(size_t(chunks));
    MB_CUDA_CHECK(cudaMemsetAsync(stats_.get(), 0, stats_.bytes(), stream_));
    int64_t* stats = stats_.as<int64_t>();
    int32_t* offsets = offsets_.as<int32_t>();

    for (int64_t ch = 0; ch < chunks; ++ch) {
      const int64_t first = std::min(T, ch * shape_.chunk), n = std::min(T, first + shape_.chunk) - first;
      LayerArgs part;
      part.x = static_cast<const char*>(args.x) + size_t(first * H) * elem;
      part.logits = args.logits + size_t(first * E);
      part.out = static_cast<char*>(args.out) + size_t(first * H) * elem;
      part.num_tokens = n;
      cudaEvent_t* ev = &events_[size_t(ch) * kPhases];

      MB_CUDA_CHECK(cudaEventRecord(ev[0], stream_));
      if (n > 0) stages_->select_experts(part);
      fused_dispatch(windows_->device_comm(), w_, shape_, part.x, stages_->expert_ids(), n, stats, stream_);
      MB_CUDA_CHECK(cudaEventRecord(ev[1], stream_));

      const void* expert_out = empty_out_.get();
      void* rows = local_stages_ ? local_stages_->rows() : empty_out_.get();
      fused_receive(w_, shape_, rows, offsets, cursor_.as<int32_t>(), origin_.as<int32_t>(), stats, stream_);
      if (local_stages_) {
        grouped_->run(*local_stages_, routed_->layer_weights(), offsets, std::max<int64_t>(n, 1) * m.top_k, capacity_,
                      offsets + shape_.per_group);
        expert_out = local_stages_->expert_out();
      }
      MB_CUDA_CHECK(cudaEventRecord(ev[2], stream_));

      fused_return(windows_->device_comm(), w_, shape_, spec_.parallel.moe_tp_rank(), expert_out, offsets,
                   origin_.as<int32_t>(), stream_);
      const MoeStages::SharedOutput shared = n > 0 ? stages_->shared_experts(part) : MoeStages::SharedOutput{};
      fused_combine(w_, shape_, stages_->route_weights(), n, shared.out, shared.gate_logits, part.out, stream_);
      MB_CUDA_CHECK(cudaEventRecord(ev[3], stream_));
    }
    chunks_ = chunks;
  }

  std::vector<std::pair<std::string, double>> counters() const override {
    double ms[3] = {};
    for (int64_t ch = 0; ch < chunks_; ++ch)
      for (int i = 0; i < 3; ++i) {
        float span = 0;
        const cudaEvent_t* ev = &events_[size_t(ch) * kPhases];
        if (cudaEventElapsedTime(&span, ev[i], ev[i + 1]) == cudaSuccess)
          ms[i] += span;
        else
          cudaGetLastError();
      }
    int64_t stats[kFusedStats] = {};
    if (cudaMemcpy(stats, stats_.get(), sizeof stats, cudaMemcpyDeviceToHost) != cudaSuccess) cudaGetLastError();
    const double row = double(shape_.row_bytes());
    return {{"dispatch_ms", ms[0]},
            {"expert_ms", ms[1]},
            {"combine_ms", ms[2]},
            // Rows to and from other ranks, as `ep` counts them: a row goes out and its result comes
            // back; a row arrives and its result goes back. (The 4-byte slot tags are left out.)
            {"sent_bytes", double(stats[kRowsSent] + stats[kRowsReceived]) * row},
            {"received_bytes", double(stats[kRowsSent] + stats[kRowsReceived]) * row},
            {"chunks", double(chunks_)}};
  }

 private:
  static constexpr int kPhases = 4;  // start, dispatched, computed, combined

  Communicator& comm() { return spec_.parallel.comm ? *spec_.parallel.comm : *own_comm_; }

  void ensure_events(size_t chunks) {
    while (events_.size() < chunks * kPhases) {
      cudaEvent_t e;
      MB_CUDA_CHECK(cudaEventCreate(&e));
      events_.push_back(e);
    }
  }

  Backend& backend_;
  cudaStream_t stream_;
  LayerSpec spec_;
  LayerWeights weights_;
  std::unique_ptr<Communicator> own_comm_;
  FusedExchangeShape shape_;
  std::unique_ptr<NcclWindows> windows_;
  FusedWindows w_{};
  RankExperts held_;
  std::unique_ptr<LocalExperts> routed_;
  std::unique_ptr<MoeStages> stages_, local_stages_;
  std::unique_ptr<GroupedExperts> grouped_;
  DeviceBuffer offsets_, cursor_, origin_, stats_, empty_out_;
  int64_t capacity_ = 0, chunks_ = 0;
  std::vector<cudaEvent_t> events_;
};

}  // namespace

std::unique_ptr<MoeImpl> make_cuda_fused_expert_parallel(Backend& backend) {
  return std::make_unique<CudaFusedExpertParallel>(backend);
}

}  // namespace moebench
