#include "core/model_config.hpp"

#include <fmt/format.h>

#include "core/errors.hpp"
#include "core/size_math.hpp"

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

// The --manual-config flag of each config field (the fields --manual-config can set).
struct ManualFlag {
  const char* field;
  const char* flag;
};
constexpr ManualFlag kManualFlags[] = {
    {"hidden_size", "--hidden-size"},
    {"moe_intermediate_size", "--intermediate-size"},
    {"num_experts", "--num-experts"},
    {"num_experts_per_tok", "--num-experts-per-tok"},
    {"n_shared_experts", "--num-shared-experts"},
    {"shared_intermediate_size", "--shared-intermediate-size"},
    {"num_hidden_layers", "--num-hidden-layers"},
    {"num_attention_heads", "--num-attention-heads"},
    {"num_key_value_heads", "--num-key-value-heads"},
    {"head_dim", "--head-dim"},
    {"vocab_size", "--vocab-size"},
    {"max_position_embeddings", "--max-position-embeddings"},
};

// A config.json leaves a field it lacks at 0 (fields present are checked positive when read),
// so 0 there means missing; a flag of --manual-config set to 0 is a bad value.
void require_positive(const ModelConfig& c, int64_t value, const char* field, const std::string& model,
                      const char* purpose = nullptr) {
  if (value > 0) return;
  if (value == 0 && c.family != "manual")
    throw InputError(fmt::format("{}: missing field \"{}\"{}", model, field,
                                 purpose ? fmt::format(" ({})", purpose) : std::string()));
  const std::string flag = c.source_name(field);
  throw InputError(fmt::format("{}: {} must be positive (got {}){}", model, field, value,
                               flag != field ? fmt::format(": give {} a positive value", flag) : std::string()));
}

// Shapes beyond any machine are refused before anything multiplies them out (fp32 copies: the
// CPU reference keeps one, so 4 bytes per parameter bounds every dtype moebench runs).
void require_plausible_size(int64_t parameters, const std::string& what,
                            const std::string& fields, const std::string& model) {
  if (!beyond_any_machine(size_mul(parameters, 4))) return;
  const std::string count =
      parameters == kSizeSaturated ? std::string("more than 2^63") : fmt::format("{:.3g}", double(parameters));
  throw InputError(fmt::format("{}: {} is beyond any machine ({} parameters, more than {} TiB in fp32): check {}",
                               model, what, count, kMaxMachineBytes >> 40, fields));
}

}  // namespace

int ModelConfig::sliding_layer_count() const {
  int count = 0;
  for (bool sliding : sliding_layers) count += sliding;
  return count;
}

std::string describe_moe_shape(const ModelConfig& m) {
  std::string shared;
  if (m.num_shared_experts > 0)
    shared = fmt::format(", {} shared expert{} of width {}{}", m.num_shared_experts, m.num_shared_experts == 1 ? "" : "s",
                         m.shared_intermediate_size, m.shared_expert_gate ? " (gated)" : "");
  return fmt::format("{} experts top-{}{}, H={} I={}", m.num_experts, m.top_k, shared, m.hidden_size,
                     m.moe_intermediate_size);
}

std::string ModelConfig::source_name(const char* field) const {
  if (family == "manual")
    for (const ManualFlag& f : kManualFlags)
      if (std::string(f.field) == field) return f.flag;
  return field;
}

int64_t ModelConfig::moe_layer_parameters() const {
  const int64_t routed = size_mul(num_experts, 3, hidden_size, moe_intermediate_size);
  const int64_t shared = size_mul(num_shared_experts, 3, hidden_size, shared_intermediate_size);
  return size_add(routed, shared, size_mul(num_experts, hidden_size));  // + the router
}

int64_t ModelConfig::model_parameters() const {
  int64_t per_layer_attention = 0;
  if (attention == AttentionKind::mla) {
    const int64_t q_in = q_lora_rank > 0 ? q_lora_rank : hidden_size;
    per_layer_attention = size_add(size_mul(hidden_size, size_add(q_lora_rank, kv_lora_rank, qk_rope_head_dim)),
                         size_mul(q_in, num_attention_heads, head_dim),
                         size_mul(kv_lora_rank, num_attention_heads, size_add(qk_nope_head_dim, v_head_dim)),
                         size_mul(num_attention_heads, v_head_dim, hidden_size));
  } else {
    per_layer_attention = size_mul(hidden_size, head_dim, size_add(size_mul(2, num_attention_heads), size_mul(2, num_kv_heads)));
  }
  const int64_t layers = size_add(size_mul(num_layers, per_layer_attention), size_mul(moe_layer_count(), moe_layer_parameters()),
                                  size_mul(first_k_dense_replace, 3, hidden_size, dense_intermediate_size));
  return size_add(layers, size_mul(2, vocab_size, hidden_size));
}

void ModelConfig::validate(bool layer_only) const {
  const std::string& m = name.empty() ? std::string("model config") : name;
  require_positive(*this, hidden_size, "hidden_size", m);
  require_positive(*this, moe_intermediate_size, "moe_intermediate_size", m);
  require_positive(*this, num_experts, "num_experts", m);
  require_positive(*this, top_k, "num_experts_per_tok", m);
  if (top_k > num_experts)
    throw InputError(fmt::format("{}: top_k ({}) exceeds num_experts ({}): num_experts_per_tok must be at most num_experts",
                                 m, top_k, num_experts));
  if (num_shared_experts < 0)
    throw InputError(fmt::format("{}: {} must be >= 0 (got {})", m, source_name("n_shared_experts"), num_shared_experts));
  if (num_shared_experts > 0) require_positive(*this, shared_intermediate_size, "shared_intermediate_size", m);
  if (routed_scaling_factor <= 0)
    throw InputError(fmt::format("{}: routed_scaling_factor must be positive (got {})", m,
                                 routed_scaling_factor));
  require_positive(*this, n_group, "n_group", m);
  require_positive(*this, topk_group, "topk_group", m);
  if (num_experts % n_group != 0)
    throw InputError(fmt::format("{}: num_experts ({}) must be divisible by n_group ({})", m,
                                 num_experts, n_group));
  if (topk_group > n_group)
    throw InputError(fmt::format("{}: topk_group ({}) exceeds n_group ({})", m, topk_group, n_group));
  if (n_group > 1 && topk_group * (num_experts / n_group) < top_k)
    throw InputError(fmt::format(
        "{}: topk_group ({}) groups of {} experts cannot hold top_k ({}) experts", m, topk_group,
        num_experts / n_group, top_k));
  require_plausible_size(moe_layer_parameters(), "one MoE layer",
                         fmt::format("{}, {} and {}", source_name("num_experts"), source_name("hidden_size"),
                                     source_name("moe_intermediate_size")),
                         m);
  if (layer_only) return;

  require_positive(*this, num_layers, "num_hidden_layers", m);
  if (first_k_dense_replace < 0 || first_k_dense_replace > num_layers)
    throw InputError(fmt::format("{}: first_k_dense_replace ({}) must be within 0..num_hidden_layers ({})",
                                 m, first_k_dense_replace, num_layers));
  if (first_k_dense_replace > 0) require_positive(*this, dense_intermediate_size, "intermediate_size", m, "the width of the dense MLP layers");
  require_positive(*this, num_attention_heads, "num_attention_heads", m);
  require_positive(*this, num_kv_heads, "num_key_value_heads", m);
  if (num_attention_heads % num_kv_heads != 0)
    throw InputError(fmt::format("{}: num_attention_heads ({}) must be divisible by num_key_value_heads ({})",
                                 m, num_attention_heads, num_kv_heads));
  require_positive(*this, head_dim, "head_dim", m);
  require_positive(*this, vocab_size, "vocab_size", m);
  require_positive(*this, max_position_embeddings, "max_position_embeddings", m);
  if (attention == AttentionKind::mla) {
    require_positive(*this, kv_lora_rank, "kv_lora_rank", m);
    require_positive(*this, qk_rope_head_dim, "qk_rope_head_dim", m);
    require_positive(*this, qk_nope_head_dim, "qk_nope_head_dim", m);
    require_positive(*this, v_head_dim, "v_head_dim", m);
  }
  if (!sliding_layers.empty()) {
    if (int64_t(sliding_layers.size()) != num_layers)
      throw InputError(fmt::format("{}: layer_types lists {} layers, num_hidden_layers is {}", m, sliding_layers.size(),
                                   num_layers));
    if (sliding_layer_count() > 0) require_positive(*this, sliding_window, "sliding_window", m);
  }
  require_plausible_size(model_parameters(), "the whole model",
                         fmt::format("{}, {}, {} and {}", source_name("num_hidden_layers"), source_name("hidden_size"),
                                     source_name("num_attention_heads"), source_name("vocab_size")),
                         m);
}

}  // namespace moebench
