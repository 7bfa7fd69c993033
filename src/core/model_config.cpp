#include "core/model_config.hpp"

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

std::string manual_model_name(int num_experts, int top_k, int64_t hidden_size, int64_t intermediate_size) {
  return fmt::format("manual-e{}-k{}-h{}-i{}", num_experts, top_k, hidden_size, intermediate_size);
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::silu: return "silu";
    case Activation::gelu: return "gelu";
    case Activation::swigluoai: return "swigluoai";
  }
  return "?";
}

Activation parse_activation(const std::string& text) {
  if (text == "silu" || text == "swiglu" || text == "swish") return Activation::silu;
  if (text == "gelu" || text == "gelu_pytorch_tanh" || text == "gelu_new") return Activation::gelu;
  if (text == "swigluoai") return Activation::swigluoai;
  throw InputError("unknown activation '" + text + "': use silu, gelu or swigluoai");
}

const char* scoring_name(ScoringFunc s) { return s == ScoringFunc::softmax ? "softmax" : "sigmoid"; }

ScoringFunc parse_scoring(const std::string& text) {
  if (text == "softmax") return ScoringFunc::softmax;
  if (text == "sigmoid") return ScoringFunc::sigmoid;
  throw InputError("unknown scoring_func '" + text + "': use softmax or sigmoid");
}

namespace {

void require_positive(int64_t value, const char* field, const std::string& model) {
  if (value <= 0)
    throw InputError(fmt::format("{}: {} must be positive (got {})", model, field, value));
}

}  // namespace

void ModelConfig::validate(bool layer_only) const {
  const std::string& m = name.empty() ? std::string("model config") : name;
  require_positive(hidden_size, "hidden_size", m);
  require_positive(moe_intermediate_size, "moe_intermediate_size", m);
  require_positive(num_experts, "num_experts", m);
  require_positive(top_k, "num_experts_per_tok (top_k)", m);
  if (top_k > num_experts)
    throw InputError(fmt::format("{}: top_k ({}) exceeds num_experts ({}): num_experts_per_tok must be at most num_experts",
                                 m, top_k, num_experts));
  if (num_shared_experts < 0)
    throw InputError(fmt::format("{}: n_shared_experts must be >= 0 (got {})", m, num_shared_experts));
  if (num_shared_experts > 0) require_positive(shared_intermediate_size, "shared_intermediate_size", m);
  if (routed_scaling_factor <= 0)
    throw InputError(fmt::format("{}: routed_scaling_factor must be positive (got {})", m,
                                 routed_scaling_factor));
  require_positive(n_group, "n_group", m);
  require_positive(topk_group, "topk_group", m);
  if (num_experts % n_group != 0)
    throw InputError(fmt::format("{}: num_experts ({}) must be divisible by n_group ({})", m,
                                 num_experts, n_group));
  if (topk_group > n_group)
    throw InputError(fmt::format("{}: topk_group ({}) exceeds n_group ({})", m, topk_group, n_group));
  if (n_group > 1 && topk_group * (num_experts / n_group) < top_k)
    throw InputError(fmt::format(
        "{}: topk_group ({}) groups of {} experts cannot hold top_k ({}) experts", m, topk_group,
        num_experts / n_group, top_k));
  if (layer_only) return;

  require_positive(num_layers, "num_hidden_layers", m);
  if (first_k_dense_replace < 0 || first_k_dense_replace > num_layers)
    throw InputError(fmt::format("{}: first_k_dense_replace ({}) must be within 0..num_hidden_layers ({})",
                                 m, first_k_dense_replace, num_layers));
  if (first_k_dense_replace > 0) require_positive(dense_intermediate_size, "intermediate_size (dense MLP)", m);
  require_positive(num_attention_heads, "num_attention_heads", m);
  require_positive(num_kv_heads, "num_key_value_heads", m);
  if (num_attention_heads % num_kv_heads != 0)
    throw InputError(fmt::format("{}: num_attention_heads ({}) must be divisible by num_key_value_heads ({})",
                                 m, num_attention_heads, num_kv_heads));
  require_positive(head_dim, "head_dim", m);
  require_positive(vocab_size, "vocab_size", m);
  require_positive(max_position_embeddings, "max_position_embeddings", m);
  if (attention == AttentionKind::mla) {
    require_positive(kv_lora_rank, "kv_lora_rank", m);
    require_positive(qk_rope_head_dim, "qk_rope_head_dim", m);
    require_positive(qk_nope_head_dim, "qk_nope_head_dim", m);
    require_positive(v_head_dim, "v_head_dim", m);
  }
}

}  // namespace moebench
