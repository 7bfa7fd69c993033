#pragma once
// Shipped model presets (presets/*.json, embedded at build time) and Hugging Face
// config.json loading. A preset is validated whole; a config.json is validated for the MoE
// layer, and its decoder fields where `model` and `memory` need them.
#include <string>
#include <vector>

#include "core/model_config.hpp"

namespace moebench {

struct EmbeddedPreset {
  const char* name;
  const char* json;
};
const std::vector<EmbeddedPreset>& embedded_presets();  // generated file

std::vector<std::string> preset_names();
// Throws InputError naming the available presets when `name` is unknown.
ModelConfig load_preset(const std::string& name);
// Reads a Hugging Face config.json (or a directory holding one). Throws InputError on a
// missing or malformed file or field: `config.json: missing field "num_experts"`.
ModelConfig load_hf_config(const std::string& path);
// Parses config.json text; `origin` names it in error messages.
ModelConfig parse_hf_config(const std::string& json_text, const std::string& origin);

}  // namespace moebench
