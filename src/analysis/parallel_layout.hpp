#pragma once
// How a model is split over GPUs, with SGLang's meaning of the flags (seed 001 runs
// `--tp 8 --ep 2` on 8 GPUs):
//   tp  = the number of GPUs. Attention heads, dense MLPs and the vocabulary are split tp ways.
//   ep  = expert-parallel groups. Routed experts are split ep ways by expert, and each expert's
//         intermediate dimension tp / ep ways (SGLang's moe_tp_size), so every GPU holds
//         1/tp of the routed-expert weights whatever ep is. Shared experts are split tp / ep
//         ways and replicated across the ep groups.
// KV heads are split tp ways; when there are fewer KV heads than GPUs each one is replicated
// tp / kv_heads times (every GPU keeps one).
#include <optional>
#include <string>

#include "core/dtype.hpp"
#include "core/model_config.hpp"

namespace moebench {

struct ParallelLayout {
  int tp = 1;
  int ep = 1;
  int moe_tp() const { return tp / ep; }
};

// fp8 weights carry one fp32 scale per 128 x 128 block (DeepSeek-V3, Qwen3-FP8 checkpoints).
constexpr int64_t kFp8BlockSize = 128;

// Why `layout` cannot hold `model` with weights in `weight_dtype`, as one line naming the flag
// to change; nothing when it can. Checks the decoder stack too unless the config is layer-only.
std::optional<std::string> layout_problem(const ModelConfig& model, DType weight_dtype, ParallelLayout layout);
// Throws InputError with layout_problem's line.
void validate_layout(const ModelConfig& model, DType weight_dtype, ParallelLayout layout);

}  // namespace moebench
