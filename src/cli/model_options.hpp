#pragma once
// Model selection flags shared by every subcommand that needs a model:
// --model NAME | --model-path DIR|FILE | --manual-config with the seed-003 shape flags, and for
// the commands that need the whole decoder stack (memory, model) its flags, named as in a
// Hugging Face config.json.
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/model_config.hpp"

namespace moebench::cli {

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
  // Decoder stack of a --manual-config (add_decoder_flags_to).
  std::optional<int> num_hidden_layers;
  std::optional<int> num_attention_heads;
  std::optional<int> num_key_value_heads;
  std::optional<int> head_dim;
  std::optional<int> vocab_size;
  std::optional<int> max_position_embeddings;

  void add_to(CLI::App& app, const std::string& default_text);
  void add_decoder_flags_to(CLI::App& app);
  // The chosen model; `fallback_preset` when none was named. Throws InputError. With
  // `whole_model`, a --manual-config needs the decoder-stack flags too.
  ModelConfig resolve(const std::string& fallback_preset, bool whole_model = false) const;
};

}  // namespace moebench::cli
