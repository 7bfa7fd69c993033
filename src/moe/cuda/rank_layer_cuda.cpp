// RankLayer (rank_layer.hpp): the parts the GPU's ep and tp layers share.
#include "moe/cuda/rank_layer.hpp"

#include <numeric>

#include <fmt/format.h>

#include "backend/cuda_backend.hpp"
#include "backend/cuda_check.hpp"
#include "core/errors.hpp"
#include "dist/nccl_communicator.hpp"
#include "dist/rendezvous.hpp"
#include "moe/cuda/permute.cuh"
#include "moe/cuda/rank_rows.cuh"

namespace moebench {

std::unique_ptr<MoeImpl> make_cuda_grouped(Backend& backend);

namespace cuda {

std::unique_ptr<Communicator> own_communicator(const MoeParallel& parallel, cudaStream_t stream) {
  if (parallel.comm) return nullptr;
  if (parallel.tp_size != 1) throw InputError("a layer of several ranks needs their communicator");
  int device = 0;
  MB_CUDA_CHECK(cudaGetDevice(&device));
  RendezvousOptions options;
  options.shared_blob = nccl_unique_id();
  return make_nccl_communicator(*Rendezvous::join(RankEnv{}, options), device, stream);
}

RankLayer::RankLayer(Backend& backend) : backend_(backend), stream_(cuda_stream(backend)) {
  for (cudaEvent_t& e : events_) MB_CUDA_CHECK(cudaEventCreate(&e));
}

RankLayer::~RankLayer() {
  for (cudaEvent_t e : events_) cudaEventDestroy(e);
}

void RankLayer::prepare_rank(const LayerSpec& spec, const LayerWeights& weights, const RankExperts& held) {
  check_rank_layer_spec(spec, "the GPU's ep and tp layers");
  const MoeParallel& p = spec.parallel;
  spec_ = spec;
  own_comm_ = own_communicator(p, stream_);
  held_ = held;
  bind_weights(weights);
}

void RankLayer::bind_weights(const LayerWeights& weights) {
  weights_ = weights;
  const ModelConfig& m = spec_.model;
  bias_.clear();
  if (m.score_correction_bias && weights.score_bias) {
    bias_.resize(size_t(m.num_experts));
    backend_.copy_to_host(bias_.data(), weights.score_bias, bias_.size() * sizeof(float));
  }
  make_or_bind_experts();
}

void RankLayer::make_or_bind_experts() {
  make_or_bind_rank_experts(backend_, make_cuda_grouped, spec_, weights_, nullptr, held_, routed_, shared_);
}

Routing RankLayer::route_tokens(const float* logits, int64_t tokens) {
  logits_host_.resize(size_t(tokens * spec_.model.num_experts));
  backend_.copy_to_host(logits_host_.data(), logits, logits_host_.size() * sizeof(float));
  return route(spec_.model, logits_host_.data(), tokens, bias_);
}

void RankLayer::add_shared(const void* x, int64_t tokens, float* acc) {
  if (!shared_ || shared_->empty() || tokens == 0) return;
  const ModelConfig& m = spec_.model;
  const int S = m.num_shared_experts;
  const int64_t H = m.hidden_size, rows = tokens * S;
  const size_t row_bytes = size_t(H) * size_t(dtype_bytes(spec_.dtype));
  // Row t * S + s is token t for shared expert s.
  const size_t n = static_cast<size_t>(rows);
  std::vector<int32_t> slots(n), ids(n), token(n);
  std::iota(slots.begin(), slots.end(), 0);
  for (int64_t r = 0; r < rows; ++r) {
    ids[size_t(r)] = int32_t(r % S);
    token[size_t(r)] = int32_t(r / S);
  }
  const int32_t* slots_dev = upload(shared_slots_, slots);
  const int32_t* token_dev = upload(shared_token_, token);
  reserve(shared_x_, size_t(rows) * row_bytes);
  reserve(shared_y_, size_t(rows) * row_bytes);
  reserve(shared_weight_, size_t(rows) * sizeof(float));
  gather_rows(x, slots_dev, S, rows, H, spec_.dtype, shared_x_.get(), stream_);
  shared_->run(shared_x_.get(), ids.data(), rows, shared_y_.get());
  if (m.shared_expert_gate) {
    shared_gate_weights(x, weights_.shared_gate, tokens, H, spec_.dtype, S, shared_weight_.as<float>(), stream_);
  } else {
    const std::vector<float> ones(size_t(rows), 1.0f);
    backend_.copy_to_device(shared_weight_.get(), ones.data(), ones.size() * sizeof(float));
  }
  accumulate_rows(shared_y_.get(), token_dev, shared_weight_.as<float>(), rows, H, spec_.dtype, acc, stream_);
}

void RankLayer::mark(Event event) { MB_CUDA_CHECK(cudaEventRecord(events_[event], stream_)); }

void RankLayer::reserve(DeviceBuffer& buffer, size_t bytes) {
  if (buffer.bytes() < bytes) buffer = DeviceBuffer(backend_, std::max(bytes, 2 * buffer.bytes()));
}

std::vector<std::pair<std::string, double>> RankLayer::counters() const {
  float ms[3] = {};
  for (int i = 0; i < 3; ++i)
    if (cudaEventElapsedTime(&ms[i], events_[i], events_[i + 1]) != cudaSuccess) cudaGetLastError();
  return {{"dispatch_ms", ms[0]},      {"expert_ms", ms[1]},
          {"combine_ms", ms[2]},       {"sent_bytes", sent_bytes_},
          {"received_bytes", received_bytes_}, {"expert_rows", double(expert_rows_)}};
}

}  // namespace cuda
}  // namespace moebench
