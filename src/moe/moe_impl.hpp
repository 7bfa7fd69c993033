#pragma once
// The interface every MoE layer implementation provides, and the registry that lists them.
//
// A new implementation is one file (src/moe/cpu/ or src/moe/cuda/) plus one line in
// registry.cpp; the runner then benchmarks, verifies and reports it with no other change.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.hpp"
#include "moe/layer_spec.hpp"

namespace moebench {

class MoeImpl {
 public:
  virtual ~MoeImpl() = default;
  // Allocates workspaces for up to spec.max_tokens and derives any private weight layout.
  // Not timed. Throws InputError for a spec this implementation cannot run (e.g. a dtype).
  virtual void prepare(const LayerSpec& spec, const LayerWeights& weights) = 0;
  // Makes later forward() calls use `weights`: another layer of the same shape, so that one
  // prepared implementation (and its workspaces) serves every MoE layer of a model. On the GPU
  // a pointer swap (a recorded forward keeps the weights bound when it was recorded); where
  // prepare() derived a private layout (the CPU reference), it derives it again. Not timed.
  virtual void bind_weights(const LayerWeights& weights) = 0;
  // One full layer forward: routing from logits, experts, shared experts, weighted combine.
  // On the GPU it only enqueues work (no host synchronisation), so it can be graph-captured.
  virtual void forward(const LayerArgs& args) = 0;
  // Implementation-specific figures of the last forward (e.g. tile-rounded padding saved),
  // reported beside the timings. Read after the backend has synchronised.
  virtual std::vector<std::pair<std::string, double>> counters() const { return {}; }
  // Whether forward() of `num_tokens` enqueues work without waiting on the host, so that it
  // can be recorded once (Backend::record) and replayed: true but for eager baselines.
  virtual bool recordable(int64_t num_tokens) const {
    (void)num_tokens;
    return true;
  }
  // 0 for exact top-k routing. An implementation that rounds each expert's token count to a
  // multiple of its GEMM tile (tile-aware token rounding) returns that tile for `num_tokens`:
  // it computes another function, verified against the CPU's rounding with this tile
  // (routing/tile_rounding.hpp), and `auto` never picks it.
  virtual int routing_tile_rows(int64_t num_tokens) const {
    (void)num_tokens;
    return 0;
  }
};

// How an implementation's ranks take the batch under expert/tensor parallelism
// (LayerSpec::parallel): one_device implementations run a layer on one device only; the others
// run on any number of ranks, each taking its own slice of the batch (DeepEP-style dispatch and
// combine) or every rank the whole batch (an all-reduce of partial outputs).
enum class RankTokens { one_device, token_slice, whole_batch };

struct ImplInfo {
  std::string name;
  std::string description;
  BackendKind backend;
  std::unique_ptr<MoeImpl> (*make)(Backend& backend);
  RankTokens rank_tokens = RankTokens::one_device;
  // What a rank of a layer of several ranks runs of the layer's experts (moe_parallel.hpp), so
  // that a whole model's ranks allocate just that (moe/rank_weights.hpp); null for one_device.
  RankExperts (*holds)(const LayerSpec& spec) = nullptr;
};

// Every implementation compiled into this binary, in registry order.
const std::vector<ImplInfo>& all_impls();
// Parses --impl: "all" or a comma-separated list of names, for the given backend and number of
// ranks (--tp-size). "all" means the one-device implementations on one rank and the parallel ones
// on several; a parallel one named on one rank runs there too. Throws InputError naming the
// unknown entry (or a one-device one on several ranks) and the available ones.
std::vector<const ImplInfo*> select_impls(const std::vector<std::string>& names, BackendKind backend,
                                          int ranks = 1);

}  // namespace moebench
