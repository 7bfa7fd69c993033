#include "moe/auto_cache.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/build_info.hpp"

namespace moebench {

std::string AutoChoiceCache::path() {
  namespace fs = std::filesystem;
  fs::path dir;
  if (const char* d = std::getenv("MOEBENCH_CACHE_DIR"); d && *d)
    dir = d;
  else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    dir = fs::path(x) / "moebench";
  else if (const char* h = std::getenv("HOME"); h && *h)
    dir = fs::path(h) / ".cache" / "moebench";
  else
    dir = fs::temp_directory_path() / "moebench";
  return (dir / "auto-choices.json").string();
}

std::string AutoChoiceCache::key(const std::string& device_name, const LayerSpec& spec) {
  const ModelConfig& m = spec.model;
  return fmt::format("{}|E={} k={} H={} I={} act={} scoring={} groups={}/{} shared={}x{}{}|{}|moebench {} {}",
                     device_name, m.num_experts, m.top_k, m.hidden_size, m.moe_intermediate_size,
                     activation_name(m.activation), scoring_name(m.scoring), m.n_group, m.topk_group,
                     m.num_shared_experts, m.shared_intermediate_size, m.shared_expert_gate ? " gated" : "",
                     dtype_name(spec.dtype), build_version(), build_git_revision());
}

AutoChoiceCache::AutoChoiceCache() {
  std::ifstream file(path());
  if (!file) return;
  try {
    nlohmann::json doc = nlohmann::json::parse(file);
    for (auto& [key, buckets] : doc.items())
      for (auto& [bucket, impl] : buckets.items()) choices_[key][std::stoll(bucket)] = impl.get<std::string>();
  } catch (const std::exception&) {
    choices_.clear();  // a damaged cache is re-measured, never trusted
  }
}

std::optional<std::string> AutoChoiceCache::find(const std::string& key, int64_t bucket) const {
  auto k = choices_.find(key);
  if (k == choices_.end()) return std::nullopt;
  auto b = k->second.find(bucket);
  if (b == k->second.end()) return std::nullopt;
  return b->second;
}

void AutoChoiceCache::set(const std::string& key, int64_t bucket, const std::string& impl) {
  choices_[key][bucket] = impl;
}

void AutoChoiceCache::save() const {
  namespace fs = std::filesystem;
  const fs::path target = path();
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& [key, buckets] : choices_)
    for (const auto& [bucket, impl] : buckets) doc[key][std::to_string(bucket)] = impl;
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  const fs::path tmp = target.string() + ".tmp" + std::to_string(getpid());
  {
    std::ofstream file(tmp, std::ios::trunc);
    file << doc.dump(2) << "\n";
    if (!file) {
      std::fprintf(stderr, "moebench: note: cannot write the auto cache %s\n", tmp.c_str());
      fs::remove(tmp, ec);
      return;
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    std::fprintf(stderr, "moebench: note: cannot write the auto cache %s: %s\n", target.c_str(), ec.message().c_str());
    fs::remove(tmp, ec);
  }
}

}  // namespace moebench
