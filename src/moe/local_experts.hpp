#pragma once
// The experts one rank holds under expert/tensor parallelism, run through a single-device
// implementation (the CPU reference, CUDA grouped): the expert math a one-device layer runs,
// reused, not copied. The rank's experts are handed to that implementation as a layer of their
// own: `count` experts, top-1, whose router logits pick each row's expert with weight exactly 1
// (0 for the chosen expert, -1e30 for the others: softmax gives 1 and 0, renormalised 1), so
// row i of the output is expert_i(x_i), unweighted; the caller weights and sums the rows.
//
// An expert split over moe_tp ranks is handed over with its slice of the intermediate dimension
// (gate and up rows [begin, end), down columns [begin, end)), copied once into a private layout
// when prepared; a whole expert is a view of the layer's own weights, filled on first use where
// they are lazy (LazyExperts).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.hpp"
#include "moe/moe_impl.hpp"

namespace moebench {

// Which experts of which tensors, and which part of their intermediate dimension.
struct ExpertSlice {
  const void* w13 = nullptr;  // [experts][2 * inter][H], canonical (layer_spec.hpp)
  const void* w2 = nullptr;   // [experts][H][inter]
  const LayerWeights* lazy_source = nullptr;  // ensure_expert(first + e) before reading; null: filled
  int first = 0;
  int count = 0;
  int64_t inter = 0;  // the experts' whole intermediate size
  int64_t inter_begin = 0, inter_end = 0;
};

class LocalExperts {
 public:
  using MakeImpl = std::unique_ptr<MoeImpl> (*)(Backend& backend);
  // `layer` gives the model (hidden size, activation), dtype and seed; `max_rows` the rows the
  // first run() is prepared for (more are taken by preparing again, untimed only on first use).
  LocalExperts(Backend& backend, MakeImpl make, const LayerSpec& layer, const ExpertSlice& slice, int64_t max_rows);
  LocalExperts(const LocalExperts&) = delete;  // weights_ points into this object
  LocalExperts& operator=(const LocalExperts&) = delete;

  // Another layer's weights of the same shape (the model benchmark's layers): a pointer swap for
  // whole experts, the slices copied again otherwise. Not timed.
  void bind(const ExpertSlice& slice);
  // No intermediate columns on this rank (fewer columns than ranks): every row's output is 0.
  bool empty() const { return slice_.inter_end <= slice_.inter_begin || slice_.count == 0; }
  // y[i] = expert ids[i] (of this slice, 0-based) applied to x[i], for n rows; x and y [n][H] in
  // the layer dtype on the backend; ids on the host.
  void run(const void* x, const int32_t* ids, int64_t n, void* y);
  // The experts as a layer of their own (count experts, the slice's intermediate size) and their
  // weights in its canonical layout, for an implementation that runs them with its own kernels
  // (fused-ep, whose row counts never reach the host).
  const LayerSpec& layer_spec() const { return spec_; }
  const LayerWeights& layer_weights() const { return weights_; }

 private:
  class OffsetExperts final : public LazyExperts {
   public:
    const ExpertSlice* slice = nullptr;
    void ensure(int expert) const override { slice->lazy_source->ensure_expert(slice->first + expert); }
  };
  void prepare(int64_t max_rows);
  void set_weights();  // weights_ from slice_: a view of whole experts, or a copy of their slices
  void copy_slices();

  Backend& backend_;
  MakeImpl make_;
  LayerSpec spec_;  // the rank's experts as a layer of their own
  ExpertSlice slice_;
  OffsetExperts offset_;
  DeviceBuffer w13_, w2_;  // the private layout of a partial slice
  LayerWeights weights_;
  std::unique_ptr<MoeImpl> impl_;
  int64_t capacity_ = 0;
  std::vector<float> logits_host_;
  DeviceBuffer logits_;
};

// ep: the routed experts of the rank's group, each split moe_tp ways; the shared experts whole,
// since each rank runs them for its own tokens.
RankExperts expert_parallel_experts(const LayerSpec& spec);
// tp: the same routed slices; the shared experts split over all tp_size ranks, so that the
// all-reduce sums them once.
RankExperts tensor_parallel_experts(const LayerSpec& spec);
// The checks every rank layer makes of its spec, on either backend: bf16 or fp16 (`who` names
// the layers in the message), a valid layer, and a layout that divides the experts.
void check_rank_layer_spec(const LayerSpec& spec, const std::string& who);

// The routed experts of `spec`'s rank (its EP group's, its slice of their intermediate dimension
// as `held` says) in `weights`.
ExpertSlice routed_expert_slice(const LayerSpec& spec, const LayerWeights& weights, const LayerWeights* lazy,
                                const RankExperts& held);

// A rank's experts of `weights` as `held` describes them: `routed` gets its EP group's routed
// experts, `shared` the shared experts (none when the model has none). Made with `make` the
// first time, bound to the new weights after. `lazy`: the weights' owner when experts are filled
// on first use (the CPU backend), else null. Weights of the whole layer are sliced as `held`
// says; weights that hold the rank's part only (LayerWeights::rank_part, moe/rank_weights.hpp)
// are taken as they are, and must be the part `held` describes (std::invalid_argument otherwise).
void make_or_bind_rank_experts(Backend& backend, LocalExperts::MakeImpl make, const LayerSpec& spec,
                               const LayerWeights& weights, const LayerWeights* lazy, const RankExperts& held,
                               std::unique_ptr<LocalExperts>& routed, std::unique_ptr<LocalExperts>& shared);

}  // namespace moebench
