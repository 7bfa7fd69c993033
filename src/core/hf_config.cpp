// Hugging Face config.json -> ModelConfig, for any MoE model, recognised by its fields.
//
// Every MoE config names the same few things (experts, top-k, expert width, shared experts,
// norm_topk_prob, scoring_func), though families spell them differently (num_experts /
// num_local_experts / n_routed_experts; moe_intermediate_size / intermediate_size). One reader
// takes them all; a model_type moebench does not know (OLMoE, a new release) loads through it
// alone. A family has its own reader only where its semantics differ from the fields (DeepSeek's
// MLA and group routing, Qwen2's gated shared expert, gpt-oss's clamped SwiGLU, Mixtral's
// renormalised top-k): it asks for its own names first, so a missing field is reported under
// the name the family uses. Fields only `model` and `memory` need (layers, heads, vocabulary,
// positions) are read when present and checked by ModelConfig::validate where they are needed.
#include <fmt/format.h>

#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.hpp"
#include "core/json_fields.hpp"
#include "core/presets.hpp"

namespace moebench {

namespace {

namespace fs = std::filesystem;

// A config.json is a few KB; anything this large was passed by mistake (a weights file).
constexpr std::uintmax_t kMaxConfigBytes = 16u << 20;

void read_top_k(const JsonFields& f, ModelConfig& c, std::initializer_list<const char*> keys) {
  c.top_k = f.positive_int(f.first_present(keys));
}

Activation read_activation(const JsonFields& f) {
  std::string act = f.string_or("hidden_act", "silu");
  if (act == "silu" || act == "swiglu" || act == "swish") return Activation::silu;
  if (act.rfind("gelu", 0) == 0) return Activation::gelu;  // gelu, gelu_new, gelu_pytorch_tanh
  if (act == "swigluoai") return Activation::swigluoai;
  f.fail_value("hidden_act", "silu, gelu or swigluoai");
}

ScoringFunc read_scoring(const JsonFields& f, ScoringFunc fallback) {
  if (!f.has("scoring_func")) return fallback;
  std::string s = f.string_or("scoring_func", "");
  if (s == "softmax") return ScoringFunc::softmax;
  if (s == "sigmoid") return ScoringFunc::sigmoid;
  f.fail_value("scoring_func", "\"softmax\" or \"sigmoid\"");
}

// What the published weights are stored in: torch_dtype (or "dtype", its name since transformers
// 4.56), overridden by an fp8 quantization_config. Other methods (mxfp4, int4 compressed-tensors)
// have no DType in moebench, so such weights count as torch_dtype.
std::string read_weight_dtype(const JsonFields& f) {
  if (auto q = f.object("quantization_config"); q && q->string_or("quant_method", "") == "fp8") return "fp8";
  const char* key = f.has("torch_dtype") ? "torch_dtype" : "dtype";
  std::string t = f.string_or(key, "bfloat16");
  if (t == "bfloat16" || t == "bf16") return "bf16";
  if (t == "float16" || t == "fp16" || t == "half") return "fp16";
  if (t == "float32" || t == "fp32" || t == "float") return "fp32";
  f.fail_value(key, "bfloat16, float16 or float32");
}

// The decoder stack, the same in every family. head_dim is left 0 when absent: the family
// decides (MLA derives it, GQA defaults to hidden_size / num_attention_heads).
// Absent fields stay 0 ("missing" to ModelConfig::validate) but for hidden_size, which the
// layer needs too.
void read_decoder(const JsonFields& f, ModelConfig& c) {
  c.hidden_size = f.positive_int("hidden_size");
  c.num_layers = f.positive_int_or("num_hidden_layers", 0);
  c.num_attention_heads = f.positive_int_or("num_attention_heads", 0);
  c.num_kv_heads = f.positive_int_or("num_key_value_heads", c.num_attention_heads);
  c.head_dim = f.positive_int_or("head_dim", 0);
  c.vocab_size = f.positive_int_or("vocab_size", 0);
  c.max_position_embeddings = f.positive_int_or("max_position_embeddings", 0);
  double rope_theta = 10000.0;
  if (auto rope = f.object("rope_parameters")) rope_theta = rope->positive_number_or("rope_theta", rope_theta);
  c.rope_theta = f.positive_number_or("rope_theta", rope_theta);
  c.rms_norm_eps = f.positive_number_or("rms_norm_eps", 1e-6);
  c.tie_word_embeddings = f.bool_or("tie_word_embeddings", false);
  c.activation = read_activation(f);
  c.weight_dtype = read_weight_dtype(f);
}

// Sliding-window layers, by the fields that say which: layer_types ("sliding_attention" /
// "full_attention", one per layer, as gpt-oss writes it), or a sliding_window alone (Mistral:
// every layer slides). Qwen writes a sliding_window it does not use (use_sliding_window: false).
void read_sliding_window(const JsonFields& f, ModelConfig& c) {
  const std::vector<std::string> types = f.string_list("layer_types");
  const bool used = f.bool_or("use_sliding_window", true);
  if (types.empty() && (!f.has("sliding_window") || !used)) return;
  if (!types.empty()) {
    if (int64_t(types.size()) != c.num_layers)
      f.fail(fmt::format("field \"layer_types\" lists {} layers, num_hidden_layers is {}: give one type per layer",
                         types.size(), c.num_layers));
    for (const std::string& t : types) {
      if (t != "sliding_attention" && t != "full_attention")
        f.fail(fmt::format("field \"layer_types\" holds \"{}\": moebench models \"sliding_attention\" and "
                           "\"full_attention\" layers",
                           t));
      c.sliding_layers.push_back(t == "sliding_attention");
    }
  } else {
    c.sliding_layers.assign(size_t(std::max(c.num_layers, 0)), true);
  }
  if (c.sliding_layer_count() > 0) c.sliding_window = f.positive_int("sliding_window");
}

// Leading dense layers (first_k_dense_replace) use the dense MLP width, intermediate_size
// (0 when absent: validate names it for `model` and `memory`).
void read_dense_prefix(const JsonFields& f, ModelConfig& c, int first_k_dense) {
  c.first_k_dense_replace = first_k_dense;
  if (first_k_dense > 0) c.dense_intermediate_size = f.positive_int_or("intermediate_size", 0);
}

// The routed experts: how many, top-k, and one expert's width, under the names given (the
// family's own first).
void read_routed_experts(const JsonFields& f, ModelConfig& c, std::initializer_list<const char*> experts,
                         std::initializer_list<const char*> top_k, std::initializer_list<const char*> width) {
  c.num_experts = f.positive_int(f.first_present(experts));
  read_top_k(f, c, top_k);
  c.moe_intermediate_size = f.positive_int(f.first_present(width));
}

// Shared experts, by the fields that describe them: n_shared_experts of the routed width
// (DeepSeek), or one shared expert of shared_expert_intermediate_size (Qwen2) or
// shared_intermediate_size (MiniMax) width; n_shared_experts with an explicit width takes it.
void read_shared_experts(const JsonFields& f, ModelConfig& c) {
  int width = f.non_negative_int_or("shared_expert_intermediate_size", 0);
  if (width == 0) width = f.non_negative_int_or("shared_intermediate_size", 0);
  const int count = f.non_negative_int_or("n_shared_experts", width > 0 ? 1 : 0);
  c.num_shared_experts = count;
  c.shared_intermediate_size = count == 0 ? 0 : width > 0 ? width : c.moe_intermediate_size;
}

// Qwen MoE marks dense layers with mlp_only_layers and decoder_sparse_step. moebench models
// leading dense layers only, so accept exactly that: a step of 1 and a list 0..k-1.
void read_qwen_dense_layers(const JsonFields& f, ModelConfig& c) {
  if (int step = f.positive_int_or("decoder_sparse_step", 1); step != 1)
    f.fail(fmt::format("field \"decoder_sparse_step\" is {}: moebench supports only 1 (every layer MoE, apart "
                       "from leading dense layers)", step));
  std::vector<int> dense = f.non_negative_int_list("mlp_only_layers");
  for (size_t i = 0; i < dense.size(); ++i)
    if (dense[i] != int(i))
      f.fail("field \"mlp_only_layers\" must list leading layers 0, 1, ..., k-1: moebench supports dense "
             "layers only before the MoE layers");
  read_dense_prefix(f, c, int(dense.size()));
}

void read_qwen2_moe(const JsonFields& f, ModelConfig& c) {
  read_routed_experts(f, c, {"num_experts", "num_local_experts"}, {"num_experts_per_tok"}, {"moe_intermediate_size"});
  // One shared expert, scaled by sigmoid(x . shared_expert_gate).
  read_shared_experts(f, c);
  c.shared_expert_gate = c.num_shared_experts > 0;
  c.scoring = ScoringFunc::softmax;
  c.norm_topk_prob = f.bool_or("norm_topk_prob", false);
  read_qwen_dense_layers(f, c);
}

void read_qwen3_moe(const JsonFields& f, ModelConfig& c) {
  read_routed_experts(f, c, {"num_experts", "num_local_experts"}, {"num_experts_per_tok"}, {"moe_intermediate_size"});
  // Qwen3-MoE has no shared expert; shared_expert_intermediate_size (0 in Qwen3-Coder) is unused.
  c.scoring = ScoringFunc::softmax;
  c.norm_topk_prob = f.bool_or("norm_topk_prob", false);
  c.qk_norm = true;
  read_qwen_dense_layers(f, c);
}

// Softmax over all experts, then the top-k weights renormalised to sum to 1.
void read_mixtral(const JsonFields& f, ModelConfig& c) {
  read_routed_experts(f, c, {"num_local_experts", "num_experts"}, {"num_experts_per_tok"},
                      {"intermediate_size", "moe_intermediate_size"});
  c.scoring = ScoringFunc::softmax;
  c.norm_topk_prob = true;
}

// DeepSeek-V2 / V3 and Kimi-K2 (a DeepSeek-V3 with other numbers): MLA attention, shared
// experts of the routed experts' width, optional group-limited routing.
void read_deepseek(const JsonFields& f, ModelConfig& c, bool v2) {
  read_routed_experts(f, c, {"n_routed_experts", "num_experts"}, {"num_experts_per_tok"}, {"moe_intermediate_size"});
  // Each shared expert is as wide as a routed one (not n_shared_experts times wider).
  read_shared_experts(f, c);

  c.scoring = read_scoring(f, v2 ? ScoringFunc::softmax : ScoringFunc::sigmoid);
  c.norm_topk_prob = f.bool_or("norm_topk_prob", !v2);
  c.routed_scaling_factor = f.positive_number_or("routed_scaling_factor", 1.0);
  std::string method = f.string_or("topk_method", v2 ? "greedy" : "noaux_tc");
  if (method == "greedy") {
    c.n_group = c.topk_group = 1;  // plain top-k: n_group and topk_group are not used
  } else if (method == "group_limited_greedy" || method == "noaux_tc") {
    c.n_group = f.positive_int_or("n_group", 1);
    c.topk_group = f.positive_int_or("topk_group", 1);
    c.score_correction_bias = method == "noaux_tc";
  } else {
    f.fail_value("topk_method", "\"greedy\", \"group_limited_greedy\" or \"noaux_tc\"");
  }
  if (int freq = f.positive_int_or("moe_layer_freq", 1); freq != 1)
    f.fail(fmt::format("field \"moe_layer_freq\" is {}: moebench supports only 1 (every layer after "
                       "first_k_dense_replace is MoE)", freq));
  read_dense_prefix(f, c, f.non_negative_int_or("first_k_dense_replace", 0));

  c.attention = AttentionKind::mla;
  c.q_lora_rank = f.non_negative_int_or("q_lora_rank", 0);  // null: queries are not compressed
  c.kv_lora_rank = f.positive_int("kv_lora_rank");
  c.qk_nope_head_dim = f.positive_int("qk_nope_head_dim");
  c.qk_rope_head_dim = f.positive_int("qk_rope_head_dim");
  c.v_head_dim = f.positive_int("v_head_dim");
  int64_t head_dim = int64_t(c.qk_nope_head_dim) + c.qk_rope_head_dim;
  if (head_dim > INT_MAX)
    f.fail(fmt::format("qk_nope_head_dim + qk_rope_head_dim ({}) is not a plausible head size", head_dim));
  c.head_dim = int(head_dim);
}

// GLM-4.5/4.6: DeepSeek-V3 routing (sigmoid, correction bias, scaling) with GQA attention.
void read_glm4_moe(const JsonFields& f, ModelConfig& c) {
  read_routed_experts(f, c, {"n_routed_experts", "num_experts"}, {"num_experts_per_tok"}, {"moe_intermediate_size"});
  read_shared_experts(f, c);
  c.scoring = read_scoring(f, ScoringFunc::sigmoid);
  c.score_correction_bias = true;
  c.norm_topk_prob = f.bool_or("norm_topk_prob", true);
  c.routed_scaling_factor = f.positive_number_or("routed_scaling_factor", 1.0);
  c.n_group = f.positive_int_or("n_group", 1);
  c.topk_group = f.positive_int_or("topk_group", 1);
  c.qk_norm = f.bool_or("use_qk_norm", false);
  read_dense_prefix(f, c, f.non_negative_int_or("first_k_dense_replace", 0));
}

// MiniMax-M2 (and the older "minimax" type): intermediate_size is the expert width; sigmoid
// scores with a routing bias for selection, top-k weights renormalised.
void read_minimax(const JsonFields& f, ModelConfig& c, bool m2) {
  read_routed_experts(f, c, {"num_local_experts", "num_experts"}, {"num_experts_per_tok"},
                      {"intermediate_size", "moe_intermediate_size"});
  read_shared_experts(f, c);
  c.scoring = read_scoring(f, m2 ? ScoringFunc::sigmoid : ScoringFunc::softmax);
  c.score_correction_bias = f.bool_or("use_routing_bias", false);
  c.norm_topk_prob = f.bool_or("norm_topk_prob", true);
  c.qk_norm = f.bool_or("use_qk_norm", false);
}

// gpt-oss: clamped SwiGLU (swigluoai) whatever hidden_act says; softmax over the top-k logits.
void read_gpt_oss(const JsonFields& f, ModelConfig& c) {
  read_routed_experts(f, c, {"num_local_experts", "num_experts"}, {"experts_per_token", "num_experts_per_tok"},
                      {"intermediate_size", "moe_intermediate_size"});
  c.activation = Activation::swigluoai;
  c.scoring = ScoringFunc::softmax;
  c.norm_topk_prob = true;
}

// Any other MoE config: everything from the fields. Defaults are those of transformers' MoE
// models when a field is absent: softmax scores, no renormalisation, no scaling, one group.
void read_moe_by_fields(const JsonFields& f, ModelConfig& c) {
  read_routed_experts(f, c, {"num_experts", "num_local_experts", "n_routed_experts"},
                      {"num_experts_per_tok", "experts_per_token"}, {"moe_intermediate_size", "intermediate_size"});
  read_shared_experts(f, c);
  c.scoring = read_scoring(f, ScoringFunc::softmax);
  c.norm_topk_prob = f.bool_or("norm_topk_prob", false);
  c.routed_scaling_factor = f.positive_number_or("routed_scaling_factor", 1.0);
  c.n_group = f.positive_int_or("n_group", 1);
  c.topk_group = f.positive_int_or("topk_group", 1);
  c.score_correction_bias = f.bool_or("use_routing_bias", false) || f.string_or("topk_method", "") == "noaux_tc";
  if (f.has("mlp_only_layers") || f.has("decoder_sparse_step"))
    read_qwen_dense_layers(f, c);
  else
    read_dense_prefix(f, c, f.non_negative_int_or("first_k_dense_replace", 0));
}

struct Family {
  const char* model_type;
  void (*read)(const JsonFields&, ModelConfig&);
};

// Families whose semantics differ from what their fields say; any other model_type is read by
// its fields (read_moe_by_fields).
const Family kFamilies[] = {
    {"deepseek_v2", [](const JsonFields& f, ModelConfig& c) { read_deepseek(f, c, /*v2=*/true); }},
    {"deepseek_v3", [](const JsonFields& f, ModelConfig& c) { read_deepseek(f, c, /*v2=*/false); }},
    {"glm4_moe", read_glm4_moe},
    {"gpt_oss", read_gpt_oss},
    {"kimi_k2", [](const JsonFields& f, ModelConfig& c) { read_deepseek(f, c, /*v2=*/false); }},
    {"minimax", [](const JsonFields& f, ModelConfig& c) { read_minimax(f, c, /*m2=*/false); }},
    {"minimax_m2", [](const JsonFields& f, ModelConfig& c) { read_minimax(f, c, /*m2=*/true); }},
    {"mixtral", read_mixtral},
    {"qwen2_moe", read_qwen2_moe},
    {"qwen3_moe", read_qwen3_moe},
};

// "_moebench": what moebench adds to a preset. Checked so that a typo in a preset is caught.
void check_moebench_section(const JsonFields& f) {
  auto m = f.object("_moebench");
  if (!m) return;
  m->string_or("description", "");
  m->string_or("source", "");
  m->positive_int_or("batch_size", 1);
  m->positive_int_or("seq_len", 1);
  std::vector<std::string> unknown = m->unknown_keys({"description", "source", "batch_size", "seq_len"});
  if (!unknown.empty())
    f.fail(fmt::format("unknown field \"_moebench.{}\": use description, source, batch_size or seq_len",
                       unknown.front()));
}

}  // namespace

ModelConfig parse_hf_config(const std::string& json_text, const std::string& origin) {
  nlohmann::json doc = parse_json_object(json_text, origin);
  JsonFields f(doc, origin);

  // model_type only picks a family reader; a config without it is read by its fields.
  const std::string model_type = f.string_or("model_type", "");
  void (*read)(const JsonFields&, ModelConfig&) = read_moe_by_fields;
  for (const Family& fam : kFamilies)
    if (model_type == fam.model_type) read = fam.read;

  ModelConfig c;
  c.name = origin;
  c.family = model_type.empty() ? "unknown" : model_type;
  read_decoder(f, c);
  read_sliding_window(f, c);
  read(f, c);
  if (c.head_dim == 0 && c.num_attention_heads > 0) {
    if (c.hidden_size % c.num_attention_heads != 0)
      f.fail(fmt::format("missing field \"head_dim\" (hidden_size {} is not a multiple of num_attention_heads {})",
                         c.hidden_size, c.num_attention_heads));
    c.head_dim = int(c.hidden_size / c.num_attention_heads);
  }
  check_moebench_section(f);
  c.validate(/*layer_only=*/true);
  return c;
}

ModelConfig load_hf_config(const std::string& path) {
  std::error_code ec;
  fs::path file = path;
  if (!fs::exists(file, ec))
    throw InputError(fmt::format("--model-path {}: no config.json found ({} does not exist; moebench reads local "
                                 "files only: download the model's config.json, or use --model with a preset)",
                                 path, path));
  if (fs::is_directory(file, ec)) {
    file /= "config.json";
    if (!fs::exists(file, ec))
      throw InputError(fmt::format("--model-path {}: no config.json found (the directory holds no config.json; "
                                   "point --model-path at the model's folder or at its config.json)",
                                   path));
  }
  if (!fs::is_regular_file(file, ec))
    throw InputError(fmt::format("--model-path {}: no config.json found ({} is not a regular file)", path,
                                 file.string()));
  std::uintmax_t bytes = fs::file_size(file, ec);
  if (!ec && bytes > kMaxConfigBytes)
    throw InputError(fmt::format("--model-path {}: {} is {} MiB, too large for a config.json (pass the model's "
                                 "directory or its config.json)",
                                 path, file.string(), bytes >> 20));
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || ec)
    throw InputError(fmt::format("--model-path {}: cannot read {}", path, file.string()));

  ModelConfig c = parse_hf_config(text.str(), file.string());
  c.name = path;
  return c;
}

}  // namespace moebench
