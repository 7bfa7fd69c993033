#include "cli/model_options.hpp"

#include <fmt/format.h>

#include "core/errors.hpp"
#include "core/presets.hpp"

namespace moebench::cli {

void ModelOptions::add_to(CLI::App& app, const std::string& default_text) {
  std::string presets;
  for (const std::string& n : preset_names()) presets += (presets.empty() ? "" : ", ") + n;
  app.add_option("--model", model, "shipped preset: " + presets + " (default: " + default_text + ")");
  app.add_option("--model-path", model_path, "Hugging Face config.json, or a directory holding one");
  app.add_flag("--manual-config", manual, "describe the layer with the flags below instead of a model");
  app.add_option("--num-experts", num_experts, "manual: routed experts");
  app.add_option("--num-experts-per-tok", top_k, "manual: experts per token (top-k)");
  app.add_option("--hidden-size", hidden_size, "manual: hidden size");
  app.add_option("--intermediate-size", intermediate_size, "manual: intermediate size of one expert");
  app.add_option("--activation", activation, "manual: silu, gelu or swigluoai")->capture_default_str();
  app.add_option("--num-shared-experts", num_shared_experts, "manual: shared experts")->capture_default_str();
  app.add_option("--shared-intermediate-size", shared_intermediate_size,
                 "manual: intermediate size of one shared expert (default: --intermediate-size)");
}

ModelConfig ModelOptions::resolve(const std::string& fallback_preset) const {
  int sources = int(!model.empty()) + int(!model_path.empty()) + int(manual);
  if (sources > 1)
    throw InputError("choose one of --model, --model-path and --manual-config");
  bool shape_flags = num_experts || top_k || hidden_size || intermediate_size || shared_intermediate_size ||
                     num_shared_experts != 0;
  if (shape_flags && !manual)
    throw InputError("--num-experts, --num-experts-per-tok, --hidden-size and --intermediate-size need "
                     "--manual-config");
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
  c.name = fmt::format("manual-e{}-k{}-h{}-i{}", *num_experts, *top_k, *hidden_size, *intermediate_size);
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
  c.validate(/*layer_only=*/true);
  return c;
}

}  // namespace moebench::cli
