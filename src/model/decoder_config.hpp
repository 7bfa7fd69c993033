#pragma once
// The decoder stack `moebench model` runs, derived from a ModelConfig: the whole model or its
// first --num-layers layers, and MLA attention (DeepSeek-V3, Kimi-K2) replaced by GQA whose
// KV cache holds about as many bytes per token. Everything that sizes a buffer reads `model`,
// so the memory model's prediction and the allocations describe the same stack.
#include <optional>
#include <string>

#include "core/dtype.hpp"
#include "core/model_config.hpp"

namespace moebench {

struct DecoderConfig {
  ModelConfig model;      // what runs: layers truncated, MLA replaced by GQA
  int full_layers = 0;    // num_hidden_layers of the model as published
  DType dtype = DType::bf16;
  // Lines the output states about what runs in place of the published model; empty when it
  // runs as published.
  std::string truncation_note;
  std::string attention_note;

  const ModelConfig& m() const { return model; }
  bool is_dense(int layer) const { return layer < model.first_k_dense_replace; }
  int64_t q_width() const { return int64_t(model.num_attention_heads) * model.head_dim; }
  int64_t kv_width() const { return int64_t(model.num_kv_heads) * model.head_dim; }
  int64_t qkv_width() const { return q_width() + 2 * kv_width(); }
};

// Validates the decoder stack (InputError naming the field or flag) and derives what runs.
// `num_layers`: --num-layers, at most the model's num_hidden_layers.
DecoderConfig make_decoder_config(const ModelConfig& model, std::optional<int> num_layers, DType dtype);

}  // namespace moebench
