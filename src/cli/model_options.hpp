#pragma once
// Model selection flags shared by every subcommand that needs a model:
// --model NAME | --model-path DIR|FILE | --manual-config with the seed-003 shape flags.
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

  void add_to(CLI::App& app, const std::string& default_text);
  // The chosen model; `fallback_preset` when none was named. Throws InputError.
  ModelConfig resolve(const std::string& fallback_preset) const;
};

}  // namespace moebench::cli
