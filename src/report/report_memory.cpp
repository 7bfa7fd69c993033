#include "report/report_memory.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "analysis/memory_model.hpp"
#include "core/errors.hpp"
#include "core/presets.hpp"

namespace moebench {

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

ModelConfig resolve_model(const std::string& name) {
  for (const std::string& preset : preset_names())
    if (preset == name) return load_preset(name);
  std::error_code ec;
  if (std::filesystem::exists(name, ec)) return load_hf_config(name);
  throw InputError("neither a shipped preset nor a config.json on this machine (a --manual-config layer has no decoder stack to count)");
}

bool has_prefix(const std::string& key, const char* prefix) { return key.rfind(prefix, 0) == 0; }

}  // namespace

MemoryBars memory_bars(const std::vector<std::pair<std::string, std::string>>& models, const MemorySettings& settings) {
  MemoryBars out;
  for (const auto& [name, dtype] : models) {
    try {
      MemoryRequest request;
      request.model = resolve_model(name);
      request.layout = settings.layout;
      request.weight_dtype = dtype.empty() ? DType::bf16 : parse_dtype(dtype);
      request.kv_dtype = request.activation_dtype();
      request.batch_size = settings.batch_size;
      request.input_len = settings.input_len;
      request.output_len = settings.output_len;
      MemoryBreakdown breakdown = estimate_memory(request);
      MemoryBar bar;
      bar.model = name;
      bar.dtype = dtype_name(request.weight_dtype);
      for (const MemoryLine& line : breakdown.lines) {
        const double gib = double(line.bytes) / kGiB;
        if (line.key == "weights.routed_experts" || line.key == "weights.shared_experts")
          bar.expert_weights += gib;
        else if (has_prefix(line.key, "weights."))
          bar.other_weights += gib;
        else if (line.key == "kv_cache")
          bar.kv_cache += gib;
        else if (has_prefix(line.key, "activations."))
          bar.activations += gib;
        else
          bar.buffers += gib;
      }
      out.bars.push_back(bar);
    } catch (const InputError& e) {
      out.skipped.push_back(fmt::format("{}: {}", name, e.what()));
    }
  }
  return out;
}

}  // namespace moebench
