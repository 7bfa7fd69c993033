// Shipped presets: presets/*.json, embedded at build time (cmake/embed_presets.cmake). Each is a
// Hugging Face config.json, so the config.json reader serves both.
#include "core/presets.hpp"

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const EmbeddedPreset& p : embedded_presets()) names.emplace_back(p.name);
  return names;
}

ModelConfig load_preset(const std::string& name) {
  for (const EmbeddedPreset& p : embedded_presets()) {
    if (name != p.name) continue;
    ModelConfig c = parse_hf_config(p.json, fmt::format("presets/{}.json", name));
    c.validate(/*layer_only=*/false);  // a shipped preset is a whole model
    c.name = name;
    return c;
  }
  std::string available;
  for (const std::string& n : preset_names()) available += (available.empty() ? "" : ", ") + n;
  throw InputError(fmt::format("unknown preset '{}': available presets are {} (or use --model-path / "
                               "--manual-config)",
                               name, available));
}

}  // namespace moebench
