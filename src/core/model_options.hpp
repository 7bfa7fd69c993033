#pragma once
// The model a command was asked for, as the user gave it: a preset name, a Hugging Face config
// path, or a --manual-config with its shape flags (and, for the commands that need the whole
// decoder stack, its decoder flags). resolve() turns that into a ModelConfig; the flags that
// fill these fields are registered in cli/model_options, so that jobs and tests can choose a
// model without the command line.
#include <optional>
#include <string>

#include "core/model_config.hpp"

namespace moebench {

struct ModelOptions {
  std::string model;
  std::string model_path;
  bool manual = false;
  std::optional<int> num_experts;
  std::optional<int> top_k;
  std::optional<int64_t> hidden_size;
  std::optional<int64_t> intermediate_size;
  std::string activation = "silu";
  int num_shared_experts = 0;
  std::optional<int64_t> shared_intermediate_size;
  // Decoder stack of a --manual-config (the commands that run or size the whole model).
  std::optional<int> num_hidden_layers;
  std::optional<int> num_attention_heads;
  std::optional<int> num_key_value_heads;
  std::optional<int> head_dim;
  std::optional<int> vocab_size;
  std::optional<int> max_position_embeddings;

  // The chosen model; `fallback_preset` when none was named. Throws InputError naming the
  // flag. With `whole_model`, a --manual-config needs the decoder-stack flags too.
  ModelConfig resolve(const std::string& fallback_preset, bool whole_model = false) const;
};

}  // namespace moebench
