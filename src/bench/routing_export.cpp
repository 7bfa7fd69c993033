#include "bench/routing_export.hpp"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/errors.hpp"
#include "moe/layer_weights.hpp"
#include "routing/routing.hpp"

namespace moebench {

namespace {

template <typename T>
void write_raw(const std::filesystem::path& path, const std::vector<T>& values) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(values.data()), std::streamsize(values.size() * sizeof(T)));
  if (!file) throw InputError(fmt::format("--export-routing: cannot write {}", path.string()));
}

}  // namespace

void export_routing(const std::string& dir, const ModelConfig& m, const std::vector<Scenario>& scenarios,
                    const std::vector<int64_t>& num_tokens, const ScenarioParams& params, uint64_t seed) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw InputError(fmt::format("--export-routing {}: cannot create the directory: {}", dir, ec.message()));

  const std::vector<float> bias = score_bias_values(m, seed);
  nlohmann::json manifest = {
      {"model", m.name},
      {"num_experts", m.num_experts},
      {"top_k", m.top_k},
      {"hidden_size", m.hidden_size},
      {"moe_intermediate_size", m.moe_intermediate_size},
      {"activation", activation_name(m.activation)},
      {"scoring", scoring_name(m.scoring)},
      {"n_group", m.n_group},
      {"topk_group", m.topk_group},
      {"norm_topk_prob", m.norm_topk_prob},
      {"routed_scaling_factor", m.routed_scaling_factor},
      {"score_correction_bias", bias},
      {"num_shared_experts", m.num_shared_experts},
      {"shared_intermediate_size", m.shared_intermediate_size},
      {"seed", seed},
  };
  nlohmann::json& runs = manifest["runs"] = nlohmann::json::array();
  const std::filesystem::path base(dir);
  for (Scenario scenario : scenarios)
    for (int64_t tokens : num_tokens) {
      const std::string stem = fmt::format("{}_tokens{}", scenario_name(scenario), tokens);
      std::vector<float> logits = scenario_logits(m, scenario, tokens, params, seed);
      Routing routing = route(m, logits.data(), tokens, bias);
      write_raw(base / (stem + ".logits.f32"), logits);
      write_raw(base / (stem + ".ids.i32"), routing.expert_ids);
      write_raw(base / (stem + ".weights.f32"), routing.weights);
      runs.push_back({{"scenario", scenario_name(scenario)},
                      {"num_tokens", tokens},
                      {"logits", stem + ".logits.f32"},
                      {"expert_ids", stem + ".ids.i32"},
                      {"weights", stem + ".weights.f32"}});
    }
  std::ofstream file(base / "manifest.json", std::ios::trunc);
  file << manifest.dump(2) << "\n";
  if (!file) throw InputError(fmt::format("--export-routing: cannot write {}", (base / "manifest.json").string()));
}

}  // namespace moebench
