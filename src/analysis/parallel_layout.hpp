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
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

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

// What rank `rank` of a tp-way layout holds of the parts split tp ways: the memory model counts
// these per GPU and the whole-model benchmark's ranks allocate them (model/decoder_shard.hpp), so
// both read one arithmetic. Valid for a layout layout_problem accepts.
//   query heads: heads / tp of them, [rank * heads / tp, ...);
//   KV heads: kv / tp of them where kv >= tp; else one, head rank / (tp / kv), replicated on
//     tp / kv ranks (the KV head its query heads read);
//   vocabulary (embedding and LM head, SGLang's VocabParallelEmbedding): ceil(vocab / tp) rows per
//     rank, the last ranks' fewer (or none);
//   dense MLP intermediate: intermediate / tp columns.
int heads_per_rank(const ModelConfig& model, int tp);
int kv_heads_per_rank(const ModelConfig& model, int tp);
int first_kv_head_of_rank(const ModelConfig& model, int tp, int rank);
int64_t vocab_rows_per_rank(const ModelConfig& model, int tp);
std::pair<int64_t, int64_t> vocab_rows_of_rank(const ModelConfig& model, int tp, int rank);  // [begin, end)

}  // namespace moebench
