#pragma once
// The report's memory breakdown: the memory model (analysis/memory_model.hpp) for every model
// the results name that has a decoder stack, grouped into seed 004's parts (expert weights,
// other weights, KV cache, activations, buffers).
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/parallel_layout.hpp"
#include "core/defaults.hpp"

namespace moebench {

struct MemorySettings {
  int64_t batch_size = 1;
  int64_t input_len = kDefaultInputLen;
  int64_t output_len = kDefaultOutputLen;
  ParallelLayout layout;
};

struct MemoryBar {
  std::string model;
  std::string dtype;
  // GiB per GPU.
  double expert_weights = 0;  // routed and shared experts
  double other_weights = 0;   // attention, dense MLP, router, embedding, LM head, norms
  double kv_cache = 0;
  double activations = 0;
  double buffers = 0;         // CUDA graphs, NCCL, context and library workspaces
  double total() const { return expert_weights + other_weights + kv_cache + activations + buffers; }
};

struct MemoryBars {
  std::vector<MemoryBar> bars;
  std::vector<std::string> skipped;  // "model: why it has no bar"
};

// `models` with the weight dtype each ran in ("bf16"; empty: bf16). A model is resolved as a
// shipped preset, else as a config.json path; one that is neither, or is a layer-only config,
// or does not fit the settings, is skipped with the reason.
MemoryBars memory_bars(const std::vector<std::pair<std::string, std::string>>& models, const MemorySettings& settings);

}  // namespace moebench
