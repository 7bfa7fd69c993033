#pragma once
// ModelConfig: everything moebench needs to know about a model, whatever family it came from.
//
// Presets (presets/*.json), Hugging Face config.json files and --manual-config all end up
// here; validate() is the one place where a config is checked.
#include <cstdint>
#include <string>
#include <vector>

namespace moebench {

enum class Activation { silu, gelu, swigluoai };
enum class ScoringFunc { softmax, sigmoid };
enum class AttentionKind { gqa, mla };

const char* activation_name(Activation a);
Activation parse_activation(const std::string& text);  // throws InputError
const char* scoring_name(ScoringFunc s);
ScoringFunc parse_scoring(const std::string& text);      // throws InputError

struct ModelConfig {
  std::string name;    // preset name, or the path it was read from
  std::string family;  // qwen3_moe, qwen2_moe, mixtral, deepseek_v3, glm4_moe, minimax_m2, gpt_oss, ...

  // --- MoE layer ---
  int64_t hidden_size = 0;
  int64_t moe_intermediate_size = 0;  // per routed expert
  int num_experts = 0;                // routed experts
  int top_k = 0;
  int num_shared_experts = 0;
  int64_t shared_intermediate_size = 0;  // per shared expert
  bool shared_expert_gate = false;       // Qwen2-MoE: sigmoid(x . w) scales the shared expert
  Activation activation = Activation::silu;
  ScoringFunc scoring = ScoringFunc::softmax;
  bool norm_topk_prob = true;          // renormalise the top-k weights to sum to 1
  double routed_scaling_factor = 1.0;  // multiplies the routed weights (DeepSeek-V3: 2.5)
  int n_group = 1;                     // group-limited routing (DeepSeek-V3: 8 groups, 4 kept)
  int topk_group = 1;
  bool score_correction_bias = false;  // e_score_correction_bias added for selection only

  // --- decoder stack (used by `model` and `memory`) ---
  int num_layers = 0;
  int first_k_dense_replace = 0;        // leading layers with a dense MLP instead of MoE
  int64_t dense_intermediate_size = 0;  // that dense MLP's width
  int num_attention_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  bool qk_norm = false;
  bool tie_word_embeddings = false;
  AttentionKind attention = AttentionKind::gqa;
  // MLA (DeepSeek-V2/V3, Kimi-K2): only meaningful when attention == mla.
  int q_lora_rank = 0;
  int kv_lora_rank = 0;
  int qk_nope_head_dim = 0;
  int qk_rope_head_dim = 0;
  int v_head_dim = 0;
  // Sliding-window attention (gpt-oss: layer_types alternating "sliding_attention" and
  // "full_attention"): a sliding layer's query attends to the last `sliding_window` positions,
  // itself included, and its KV cache holds at most that many. Empty: every layer full.
  int64_t sliding_window = 0;
  std::vector<bool> sliding_layers;  // one per layer

  std::string weight_dtype = "bf16";  // as published: bf16, fp8 (block-scaled), ...

  // Throws InputError naming the first field that is missing or inconsistent.
  // `layer_only` skips the decoder-stack fields (for --manual-config and the layer benchmark).
  void validate(bool layer_only = false) const;

  // Number of layers that hold an MoE block.
  int moe_layer_count() const { return num_layers - first_k_dense_replace; }
  // Whether layer `layer` attends over a sliding window, and how many layers do.
  bool layer_is_sliding(int layer) const {
    return layer >= 0 && size_t(layer) < sliding_layers.size() && sliding_layers[size_t(layer)];
  }
  int sliding_layer_count() const;

  // Parameters of one MoE layer's experts (routed and shared), and of the whole model (an
  // upper estimate: attention, experts, dense MLPs, embeddings). Saturating: never wrap.
  int64_t moe_layer_parameters() const;
  int64_t model_parameters() const;
  // What the config field `field` is called where this config came from: the flag of
  // --manual-config ("--hidden-size"), else the config.json field ("hidden_size").
  std::string source_name(const char* field) const;
};

// The MoE layer's shape in one phrase, for headers: "128 experts top-8, 2 shared experts of
// width 2048, H=7168 I=2048" (the shared part only when there are shared experts).
std::string describe_moe_shape(const ModelConfig& model);

// The name of a --manual-config model, "manual-e8-k2-h1024-i4096": what its results are stored
// under, so that `sweep` names a manual config as the run itself will.
std::string manual_model_name(int num_experts, int top_k, int64_t hidden_size, int64_t intermediate_size);

}  // namespace moebench
