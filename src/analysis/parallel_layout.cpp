#include "analysis/parallel_layout.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace {

// SGLang and vLLM refuse fp8 block-scaled weights whose per-GPU slice is not a whole number of
// scale blocks ("not divisible by weight quantization block_n = 128").
std::optional<std::string> fp8_slice_problem(const char* field, int64_t width, int ways, const char* fix) {
  int64_t slice = width / ways;
  if (slice % kFp8BlockSize == 0) return std::nullopt;
  return fmt::format("--dtype fp8: each GPU's slice of {} ({} / {} = {}) is not a multiple of the {}-wide fp8 "
                     "scale block: {}",
                     field, width, ways, slice, kFp8BlockSize, fix);
}

}  // namespace

std::optional<std::string> layout_problem(const ModelConfig& m, DType weight_dtype, ParallelLayout p) {
  if (p.tp <= 0) return fmt::format("--tp-size must be positive (got {})", p.tp);
  if (p.ep <= 0) return fmt::format("--ep-size must be positive (got {})", p.ep);
  if (p.tp % p.ep != 0)
    return fmt::format("--tp-size ({}) must be a multiple of --ep-size ({}): tp_size counts all GPUs, tp_size / "
                       "ep_size of them split each expert",
                       p.tp, p.ep);
  if (m.num_experts % p.ep != 0)
    return fmt::format("num_experts ({}) must be divisible by ep_size ({}): choose an --ep-size that divides {}",
                       m.num_experts, p.ep, m.num_experts);
  const int moe_tp = p.moe_tp();
  if (m.moe_intermediate_size % moe_tp != 0)
    return fmt::format("moe_intermediate_size ({}) must be divisible by tp_size / ep_size ({}): raise --ep-size or "
                       "choose a --tp-size that splits it evenly",
                       m.moe_intermediate_size, moe_tp);
  if (m.num_shared_experts > 0 && m.shared_intermediate_size % moe_tp != 0)
    return fmt::format("shared_intermediate_size ({}) must be divisible by tp_size / ep_size ({}): raise --ep-size "
                       "or choose a --tp-size that splits it evenly",
                       m.shared_intermediate_size, moe_tp);
  const bool fp8 = weight_dtype == DType::fp8;
  if (fp8 && moe_tp > 1)
    if (auto problem = fp8_slice_problem("moe_intermediate_size", m.moe_intermediate_size, moe_tp,
                                         "raise --ep-size or lower --tp-size"))
      return problem;
  if (fp8 && moe_tp > 1 && m.num_shared_experts > 0)
    if (auto problem = fp8_slice_problem("shared_intermediate_size", m.shared_intermediate_size, moe_tp,
                                         "raise --ep-size or lower --tp-size"))
      return problem;
  if (m.num_layers == 0) return std::nullopt;  // a layer-only config: no attention to split

  if (m.num_attention_heads % p.tp != 0)
    return fmt::format("num_attention_heads ({}) must be divisible by tp_size ({}): choose a --tp-size that divides "
                       "{}",
                       m.num_attention_heads, p.tp, m.num_attention_heads);
  // MLA keeps one latent vector per token that every GPU holds whole: no KV heads to split.
  if (m.attention == AttentionKind::gqa) {
    if (m.num_kv_heads >= p.tp && m.num_kv_heads % p.tp != 0)
      return fmt::format("num_key_value_heads ({}) must be divisible by tp_size ({}): choose a --tp-size that "
                         "divides {}",
                         m.num_kv_heads, p.tp, m.num_kv_heads);
    if (m.num_kv_heads < p.tp && p.tp % m.num_kv_heads != 0)
      return fmt::format("tp_size ({}) must be a multiple of num_key_value_heads ({}) so that each KV head is "
                         "replicated on the same number of GPUs: choose a --tp-size of {} or a multiple of it",
                         p.tp, m.num_kv_heads, m.num_kv_heads);
  }
  if (m.first_k_dense_replace > 0) {
    if (m.dense_intermediate_size % p.tp != 0)
      return fmt::format("intermediate_size of the dense layers ({}) must be divisible by tp_size ({}): choose a "
                         "--tp-size that splits it evenly",
                         m.dense_intermediate_size, p.tp);
    if (fp8 && p.tp > 1)
      if (auto problem = fp8_slice_problem("the dense layers' intermediate_size", m.dense_intermediate_size, p.tp,
                                           "lower --tp-size"))
        return problem;
  }
  return std::nullopt;
}

void validate_layout(const ModelConfig& model, DType weight_dtype, ParallelLayout layout) {
  if (auto problem = layout_problem(model, weight_dtype, layout)) throw InputError(*problem);
}

}  // namespace moebench

namespace moebench {

int heads_per_rank(const ModelConfig& m, int tp) { return m.num_attention_heads / tp; }

int kv_heads_per_rank(const ModelConfig& m, int tp) { return std::max(1, m.num_kv_heads / tp); }

int first_kv_head_of_rank(const ModelConfig& m, int tp, int rank) {
  return m.num_kv_heads >= tp ? rank * (m.num_kv_heads / tp) : rank / (tp / m.num_kv_heads);
}

int64_t vocab_rows_per_rank(const ModelConfig& m, int tp) { return (m.vocab_size + tp - 1) / tp; }

std::pair<int64_t, int64_t> vocab_rows_of_rank(const ModelConfig& m, int tp, int rank) {
  const int64_t per = vocab_rows_per_rank(m, tp);
  return {std::min(m.vocab_size, rank * per), std::min(m.vocab_size, (rank + 1) * per)};
}

}  // namespace moebench
