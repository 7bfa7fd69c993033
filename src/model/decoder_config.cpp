#include "model/decoder_config.hpp"

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace {

// MLA caches one latent of kv_lora_rank + qk_rope_head_dim values per token and layer. GQA
// stands in with heads of 128 values (64 for small latents, the two head sizes every attention
// kernel supports) and as many KV heads as keep 2 x kv_heads x head_dim at or below the
// latent, among those that divide the query heads.
void approximate_mla_by_gqa(DecoderConfig& d) {
  ModelConfig& m = d.model;
  const int latent = m.kv_lora_rank + m.qk_rope_head_dim;
  m.head_dim = latent >= 256 ? 128 : 64;
  int kv_heads = 1;
  for (int h = 1; h <= m.num_attention_heads; ++h)
    if (m.num_attention_heads % h == 0 && 2 * h * m.head_dim <= latent) kv_heads = h;
  m.num_kv_heads = kv_heads;
  m.attention = AttentionKind::gqa;
  m.qk_norm = false;
  const int gqa_values = 2 * kv_heads * m.head_dim;
  d.attention_note =
      gqa_values == latent
          ? fmt::format("attention: MLA approximated by GQA with equal KV bytes/token ({} KV heads x {})", kv_heads,
                        m.head_dim)
          : fmt::format("attention: MLA approximated by GQA ({} KV heads x {}: {} KV values/token/layer where MLA's "
                        "latent holds {}, {:.0f}% of its KV bytes/token)",
                        kv_heads, m.head_dim, gqa_values, latent, 100.0 * gqa_values / latent);
}

}  // namespace

DecoderConfig make_decoder_config(const ModelConfig& model, std::optional<int> num_layers, DType dtype) {
  if (model.num_layers <= 0)
    throw InputError(fmt::format("{}: `model` needs the decoder stack: missing field \"num_hidden_layers\" (with "
                                 "--manual-config: --num-hidden-layers, --num-attention-heads, --vocab-size)",
                                 model.name));
  model.validate(/*layer_only=*/false);
  if (dtype != DType::bf16 && dtype != DType::fp16)
    throw InputError(fmt::format("--dtype {}: `model` runs bf16 or fp16 weights and activations", dtype_name(dtype)));
  DecoderConfig d;
  d.model = model;
  d.full_layers = model.num_layers;
  d.dtype = dtype;
  if (num_layers) {
    if (*num_layers <= 0 || *num_layers > model.num_layers)
      throw InputError(fmt::format("--num-layers must be within 1..{} (the layers of {}; got {})", model.num_layers,
                                   model.name, *num_layers));
    if (*num_layers < model.num_layers) {
      d.model.num_layers = *num_layers;
      if (!d.model.sliding_layers.empty()) d.model.sliding_layers.resize(size_t(*num_layers));
      d.model.first_k_dense_replace = std::min(model.first_k_dense_replace, *num_layers);
      d.truncation_note = fmt::format("stack: truncated to the first {} of {} layers ({} dense, {} MoE)", *num_layers,
                                      model.num_layers, d.model.first_k_dense_replace, d.model.moe_layer_count());
    }
  }
  if (d.model.attention == AttentionKind::mla) approximate_mla_by_gqa(d);
  return d;
}

}  // namespace moebench
