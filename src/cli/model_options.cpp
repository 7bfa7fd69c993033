// The model selection flags (model_options.hpp), bound to a ModelOptions.
#include "cli/model_options.hpp"

#include "core/presets.hpp"

namespace moebench::cli {

void add_model_flags(CLI::App& app, ModelOptions& o, const std::string& default_text) {
  std::string presets;
  for (const std::string& n : preset_names()) presets += (presets.empty() ? "" : ", ") + n;
  app.add_option("--model", o.model, "shipped preset: " + presets + " (default: " + default_text + ")");
  app.add_option("--model-path", o.model_path, "Hugging Face config.json, or a directory holding one");
  app.add_flag("--manual-config", o.manual, "describe the layer with the flags below instead of a model");
  app.add_option("--num-experts", o.num_experts, "manual: routed experts");
  app.add_option("--num-experts-per-tok", o.top_k, "manual: experts per token (top-k)");
  app.add_option("--hidden-size", o.hidden_size, "manual: hidden size");
  app.add_option("--intermediate-size", o.intermediate_size, "manual: intermediate size of one expert");
  app.add_option("--activation", o.activation, "manual: silu, gelu or swigluoai")->capture_default_str();
  app.add_option("--num-shared-experts", o.num_shared_experts, "manual: shared experts")->capture_default_str();
  app.add_option("--shared-intermediate-size", o.shared_intermediate_size,
                 "manual: intermediate size of one shared expert (default: --intermediate-size)");
}

void add_decoder_flags(CLI::App& app, ModelOptions& o) {
  app.add_option("--num-hidden-layers", o.num_hidden_layers, "manual: decoder layers");
  app.add_option("--num-attention-heads", o.num_attention_heads, "manual: attention heads");
  app.add_option("--num-key-value-heads", o.num_key_value_heads, "manual: KV heads (default: --num-attention-heads)");
  app.add_option("--head-dim", o.head_dim, "manual: head size (default: --hidden-size / --num-attention-heads)");
  app.add_option("--vocab-size", o.vocab_size, "manual: vocabulary size");
  app.add_option("--max-position-embeddings", o.max_position_embeddings,
                 "manual: longest context (default: no limit)");
}

}  // namespace moebench::cli
