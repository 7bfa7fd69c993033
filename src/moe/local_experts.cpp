// LocalExperts (local_experts.hpp): a rank's experts as a top-1 layer of their own, run through a
// single-device implementation.
#include "moe/local_experts.hpp"

#include <algorithm>
#include <stdexcept>
#include <tuple>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace {

constexpr float kNotChosen = -1e30f;  // softmax weight exactly 0

}  // namespace

LocalExperts::LocalExperts(Backend& backend, MakeImpl make, const LayerSpec& layer, const ExpertSlice& slice,
                           int64_t max_rows)
    : backend_(backend), make_(make), spec_(layer), slice_(slice) {
  if (empty()) return;
  ModelConfig& m = spec_.model;
  m.num_experts = slice.count;
  m.top_k = 1;
  m.moe_intermediate_size = slice.inter_end - slice.inter_begin;
  m.num_shared_experts = 0;
  m.shared_intermediate_size = 0;
  m.shared_expert_gate = false;
  m.scoring = ScoringFunc::softmax;
  m.norm_topk_prob = true;
  m.routed_scaling_factor = 1.0;
  m.n_group = 1;
  m.topk_group = 1;
  m.score_correction_bias = false;
  spec_.parallel = MoeParallel{};
  spec_.binds_other_layers = false;

  offset_.slice = &slice_;
  set_weights();
  prepare(std::max<int64_t>(max_rows, 1));
}

void LocalExperts::bind(const ExpertSlice& slice) {
  slice_ = slice;
  if (empty()) return;
  set_weights();
  impl_->bind_weights(weights_);
}

void LocalExperts::set_weights() {
  const size_t elem = size_t(dtype_bytes(spec_.dtype));
  const int64_t H = spec_.model.hidden_size;
  weights_ = LayerWeights{};
  if (slice_.inter_begin == 0 && slice_.inter_end == slice_.inter) {
    weights_.w13 = static_cast<const char*>(slice_.w13) + size_t(slice_.first) * size_t(2 * slice_.inter * H) * elem;
    weights_.w2 = static_cast<const char*>(slice_.w2) + size_t(slice_.first) * size_t(H * slice_.inter) * elem;
    if (slice_.lazy_source && slice_.lazy_source->lazy) weights_.lazy = &offset_;
  } else {
    copy_slices();
  }
}

// Expert e's gate rows [b, e) and up rows [inter + b, inter + e) of w13, and columns [b, e) of
// every row of w2, laid out as a layer of intermediate size e - b.
void LocalExperts::copy_slices() {
  const int64_t H = spec_.model.hidden_size, I = slice_.inter, b = slice_.inter_begin;
  const int64_t n = slice_.inter_end - b;
  const size_t elem = size_t(dtype_bytes(spec_.dtype));
  if (!w13_.get()) {
    w13_ = DeviceBuffer(backend_, size_t(slice_.count) * size_t(2 * n * H) * elem);
    w2_ = DeviceBuffer(backend_, size_t(slice_.count) * size_t(H * n) * elem);
  }
  std::vector<char> w13(size_t(2 * I * H) * elem), w2(size_t(H * I) * elem);
  std::vector<char> w13s(size_t(2 * n * H) * elem), w2s(size_t(H * n) * elem);
  for (int e = 0; e < slice_.count; ++e) {
    const int source = slice_.first + e;
    if (slice_.lazy_source) slice_.lazy_source->ensure_expert(source);
    backend_.copy_to_host(w13.data(), static_cast<const char*>(slice_.w13) + size_t(source) * w13.size(), w13.size());
    backend_.copy_to_host(w2.data(), static_cast<const char*>(slice_.w2) + size_t(source) * w2.size(), w2.size());
    const size_t row13 = size_t(H) * elem;
    std::copy_n(w13.data() + size_t(b) * row13, size_t(n) * row13, w13s.data());
    std::copy_n(w13.data() + size_t(I + b) * row13, size_t(n) * row13, w13s.data() + size_t(n) * row13);
    for (int64_t r = 0; r < H; ++r)
      std::copy_n(w2.data() + (size_t(r * I + b)) * elem, size_t(n) * elem, w2s.data() + size_t(r * n) * elem);
    backend_.copy_to_device(w13_.as<char>() + size_t(e) * w13s.size(), w13s.data(), w13s.size());
    backend_.copy_to_device(w2_.as<char>() + size_t(e) * w2s.size(), w2s.data(), w2s.size());
  }
  weights_.w13 = w13_.get();
  weights_.w2 = w2_.get();
}

void LocalExperts::prepare(int64_t max_rows) {
  spec_.max_tokens = max_rows;
  impl_ = make_(backend_);
  impl_->prepare(spec_, weights_);
  capacity_ = max_rows;
  logits_ = DeviceBuffer(backend_, size_t(max_rows) * size_t(slice_.count) * sizeof(float));
}

void LocalExperts::run(const void* x, const int32_t* ids, int64_t n, void* y) {
  if (n == 0) return;
  const int64_t H = spec_.model.hidden_size;
  if (empty()) {
    backend_.fill_bytes(y, 0, size_t(n * H) * size_t(dtype_bytes(spec_.dtype)));
    return;
  }
  if (n > capacity_) prepare(std::max(n, 2 * capacity_));
  const size_t E = size_t(slice_.count);
  logits_host_.assign(size_t(n) * E, kNotChosen);
  for (int64_t i = 0; i < n; ++i) logits_host_[size_t(i) * E + size_t(ids[i])] = 0.0f;
  backend_.copy_to_device(logits_.get(), logits_host_.data(), logits_host_.size() * sizeof(float));
  LayerArgs args;
  args.x = x;
  args.logits = logits_.as<float>();
  args.out = y;
  args.num_tokens = n;
  impl_->forward(args);
}

RankExperts expert_parallel_experts(const LayerSpec& spec) {
  const MoeParallel& p = spec.parallel;
  const ModelConfig& m = spec.model;
  return {even_part(m.moe_intermediate_size, p.moe_tp_rank(), p.moe_tp_size()), {0, m.shared_intermediate_size},
          spec.max_tokens * m.top_k};
}

RankExperts tensor_parallel_experts(const LayerSpec& spec) {
  const MoeParallel& p = spec.parallel;
  const ModelConfig& m = spec.model;
  return {even_part(m.moe_intermediate_size, p.moe_tp_rank(), p.moe_tp_size()),
          even_part(m.shared_intermediate_size, p.rank, p.tp_size), spec.max_tokens * m.top_k};
}

void check_rank_layer_spec(const LayerSpec& spec, const std::string& who) {
  if (spec.dtype != DType::bf16 && spec.dtype != DType::fp16)
    throw InputError(fmt::format("--dtype {}: {} run bf16 or fp16", dtype_name(spec.dtype), who));
  spec.model.validate(/*layer_only=*/true);
  const MoeParallel& p = spec.parallel;
  if (spec.model.num_experts % p.ep_size != 0 || p.tp_size % p.ep_size != 0)
    throw InputError(fmt::format("num_experts ({}) must be divisible by ep_size ({}), and tp_size ({}) too",
                                 spec.model.num_experts, p.ep_size, p.tp_size));
}

ExpertSlice routed_expert_slice(const LayerSpec& spec, const LayerWeights& weights, const LayerWeights* lazy,
                                const RankExperts& held) {
  const ModelConfig& m = spec.model;
  const int64_t routed_width = held.routed_inter.second - held.routed_inter.first;
  const int64_t shared_width = held.shared_inter.second - held.shared_inter.first;
  if (weights.rank_part && (weights.rank_routed_inter != routed_width ||
                            (m.num_shared_experts > 0 && weights.rank_shared_inter != shared_width)))
    throw std::invalid_argument(fmt::format(
        "rank experts: the weights hold {} / {} intermediate columns of the routed / shared experts, the layer "
        "runs {} / {}",
        weights.rank_routed_inter, weights.rank_shared_inter, routed_width, shared_width));
  ExpertSlice r;
  r.w13 = weights.w13;
  r.w2 = weights.w2;
  r.lazy_source = lazy;
  r.count = spec.parallel.experts_per_group(m.num_experts);
  if (weights.rank_part) {  // the group's experts from 0, each as wide as the slice
    r.inter = routed_width;
    r.inter_end = routed_width;
  } else {
    r.first = spec.parallel.first_local_expert(m.num_experts);
    r.inter = m.moe_intermediate_size;
    std::tie(r.inter_begin, r.inter_end) = held.routed_inter;
  }
  return r;
}

void make_or_bind_rank_experts(Backend& backend, LocalExperts::MakeImpl make, const LayerSpec& spec,
                               const LayerWeights& weights, const LayerWeights* lazy, const RankExperts& held,
                               std::unique_ptr<LocalExperts>& routed, std::unique_ptr<LocalExperts>& shared) {
  const ModelConfig& m = spec.model;
  const int64_t shared_width = held.shared_inter.second - held.shared_inter.first;
  const ExpertSlice r = routed_expert_slice(spec, weights, lazy, held);
  if (routed) routed->bind(r);
  else routed = std::make_unique<LocalExperts>(backend, make, spec, r, held.routed_rows);
  if (m.num_shared_experts == 0) return;
  ExpertSlice sh;
  sh.w13 = weights.shared_w13;
  sh.w2 = weights.shared_w2;
  sh.count = m.num_shared_experts;
  if (weights.rank_part) {
    sh.inter = shared_width;
    sh.inter_end = shared_width;
  } else {
    sh.inter = m.shared_intermediate_size;
    std::tie(sh.inter_begin, sh.inter_end) = held.shared_inter;
  }
  if (shared) shared->bind(sh);
  else shared = std::make_unique<LocalExperts>(backend, make, spec, sh, spec.max_tokens * m.num_shared_experts);
}

}  // namespace moebench
