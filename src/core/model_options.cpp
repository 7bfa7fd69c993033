// ModelOptions::resolve: the preset, Hugging Face config or --manual-config a command was
// given, checked and turned into a ModelConfig (see core/model_options.hpp).
#include "core/model_options.hpp"

#include <fmt/format.h>

#include <limits>

#include "core/errors.hpp"
#include "core/presets.hpp"

namespace moebench {

namespace {

// --manual-config's decoder stack: every layer MoE, GQA attention, untied embeddings.
void fill_manual_decoder(const ModelOptions& o, ModelConfig& c) {
  const char* missing = !o.num_hidden_layers     ? "--num-hidden-layers"
                        : !o.num_attention_heads ? "--num-attention-heads"
                        : !o.vocab_size          ? "--vocab-size"
                                                 : nullptr;
  if (missing) throw InputError(fmt::format("--manual-config needs {} for the whole model", missing));
  c.num_layers = *o.num_hidden_layers;
  c.num_attention_heads = *o.num_attention_heads;
  c.num_kv_heads = o.num_key_value_heads.value_or(c.num_attention_heads);
  if (o.head_dim) {
    c.head_dim = *o.head_dim;
  } else {
    if (c.num_attention_heads <= 0 || c.hidden_size % c.num_attention_heads != 0)
      throw InputError(fmt::format("--head-dim: give it, --hidden-size ({}) is not a multiple of "
                                   "--num-attention-heads ({})",
                                   c.hidden_size, c.num_attention_heads));
    c.head_dim = int(c.hidden_size / c.num_attention_heads);
  }
  c.vocab_size = *o.vocab_size;
  c.max_position_embeddings = o.max_position_embeddings.value_or(std::numeric_limits<int>::max());
}

}  // namespace

ModelConfig ModelOptions::resolve(const std::string& fallback_preset, bool whole_model) const {
  int sources = int(!model.empty()) + int(!model_path.empty()) + int(manual);
  if (sources > 1)
    throw InputError("choose one of --model, --model-path and --manual-config");
  bool shape_flags = num_experts || top_k || hidden_size || intermediate_size || shared_intermediate_size ||
                     num_shared_experts != 0;
  if (shape_flags && !manual)
    throw InputError("--num-experts, --num-experts-per-tok, --hidden-size and --intermediate-size need "
                     "--manual-config");
  bool decoder_flags = num_hidden_layers || num_attention_heads || num_key_value_heads || head_dim || vocab_size ||
                       max_position_embeddings;
  if (decoder_flags && !manual)
    throw InputError("--num-hidden-layers, --num-attention-heads, --num-key-value-heads, --head-dim, --vocab-size "
                     "and --max-position-embeddings need --manual-config");
  if (!model.empty()) return load_preset(model);
  if (!model_path.empty()) return load_hf_config(model_path);
  if (!manual) return load_preset(fallback_preset);

  const char* missing = !num_experts ? "--num-experts"
                        : !top_k     ? "--num-experts-per-tok"
                        : !hidden_size ? "--hidden-size"
                        : !intermediate_size ? "--intermediate-size"
                                             : nullptr;
  if (missing) throw InputError(fmt::format("--manual-config needs {}", missing));
  ModelConfig c;
  c.name = manual_model_name(*num_experts, *top_k, *hidden_size, *intermediate_size);
  c.family = "manual";
  c.num_experts = *num_experts;
  c.top_k = *top_k;
  c.hidden_size = *hidden_size;
  c.moe_intermediate_size = *intermediate_size;
  c.activation = parse_activation(activation);
  c.num_shared_experts = num_shared_experts;
  c.shared_intermediate_size = num_shared_experts > 0 ? shared_intermediate_size.value_or(*intermediate_size) : 0;
  c.scoring = ScoringFunc::softmax;
  c.norm_topk_prob = true;
  if (whole_model) fill_manual_decoder(*this, c);
  c.validate(/*layer_only=*/!whole_model);
  return c;
}

}  // namespace moebench
