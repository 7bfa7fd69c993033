// Loading and checking --routing-file (routing_file.hpp).
#include "routing/routing_file.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/errors.hpp"

namespace moebench {

namespace {

namespace fs = std::filesystem;

struct FileContext {
  std::string path;  // as given, for messages
  fs::path dir;      // the manifest's directory
  [[noreturn]] void fail(const std::string& reason) const {
    throw InputError(fmt::format("--routing-file {}: {}", path, reason));
  }
};

template <typename T>
std::vector<T> read_array(const FileContext& ctx, const nlohmann::json& run, const char* key, size_t count,
                          const std::string& what) {
  if (!run.contains(key) || !run[key].is_string()) ctx.fail(fmt::format("run '{}' has no \"{}\" file name", what, key));
  const fs::path file = ctx.dir / run[key].get<std::string>();
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) ctx.fail(fmt::format("run '{}': cannot read {}: {}", what, file.string(), ec.message()));
  if (size != count * sizeof(T))
    ctx.fail(fmt::format("run '{}': {} holds {} bytes, expected {} ({} values of {} bytes)", what, file.string(), size,
                         count * sizeof(T), count, sizeof(T)));
  std::vector<T> values(count);
  std::ifstream in(file, std::ios::binary);
  in.read(reinterpret_cast<char*>(values.data()), std::streamsize(count * sizeof(T)));
  if (!in) ctx.fail(fmt::format("run '{}': cannot read {}", what, file.string()));
  return values;
}

RecordedRouting load_run(const FileContext& ctx, const nlohmann::json& run, size_t index, const ModelConfig& m) {
  if (!run.is_object()) ctx.fail(fmt::format("runs[{}] is not an object", index));
  RecordedRouting r;
  if (run.contains("name") && run["name"].is_string())
    r.name = run["name"].get<std::string>();
  else if (run.contains("scenario") && run["scenario"].is_string())
    r.name = run["scenario"].get<std::string>();
  else
    r.name = fmt::format("run{}", index);
  if (!run.contains("num_tokens") || !run["num_tokens"].is_number_integer() || run["num_tokens"].get<int64_t>() <= 0)
    ctx.fail(fmt::format("run '{}' needs a positive integer \"num_tokens\"", r.name));
  const int64_t T = run["num_tokens"].get<int64_t>();
  const int E = m.num_experts, k = m.top_k;
  r.routing.num_tokens = T;
  r.routing.top_k = k;
  r.routing.num_experts = E;
  r.routing.expert_ids = read_array<int32_t>(ctx, run, "expert_ids", size_t(T) * size_t(k), r.name);
  r.routing.weights = read_array<float>(ctx, run, "weights", size_t(T) * size_t(k), r.name);
  if (run.contains("logits") && !run["logits"].is_null())
    r.logits = read_array<float>(ctx, run, "logits", size_t(T) * size_t(E), r.name);
  for (int64_t t = 0; t < T; ++t) {
    std::set<int32_t> seen;
    for (int j = 0; j < k; ++j) {
      const int32_t id = r.routing.expert_ids[size_t(t * k + j)];
      const float w = r.routing.weights[size_t(t * k + j)];
      if (id < 0 || id >= E)
        ctx.fail(fmt::format("run '{}' token {}: expert id {} out of range [0, {})", r.name, t, id, E));
      if (!seen.insert(id).second)
        ctx.fail(fmt::format("run '{}' token {}: expert {} chosen twice", r.name, t, id));
      if (!std::isfinite(w) || w < 0)
        ctx.fail(fmt::format("run '{}' token {}: weight {} is not a finite non-negative number", r.name, t, w));
    }
  }
  for (float v : r.logits)
    if (std::isnan(v)) ctx.fail(fmt::format("run '{}': a router logit is NaN", r.name));
  return r;
}

}  // namespace

std::vector<RecordedRouting> load_routing_file(const std::string& path, const ModelConfig& m) {
  FileContext ctx{path, {}};
  std::error_code ec;
  fs::path manifest = path;
  if (fs::is_directory(manifest, ec)) manifest /= "manifest.json";
  if (!fs::is_regular_file(manifest, ec))
    ctx.fail(fmt::format("no such file ({}); give an --export-routing directory or its manifest.json",
                         manifest.string()));
  ctx.dir = manifest.parent_path();
  nlohmann::json doc;
  try {
    std::ifstream in(manifest);
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    ctx.fail(fmt::format("{} is not valid JSON: {}", manifest.string(), e.what()));
  }
  if (!doc.is_object()) ctx.fail("the manifest is not a JSON object");
  for (const char* key : {"num_experts", "top_k"})
    if (!doc.contains(key) || !doc[key].is_number_integer()) ctx.fail(fmt::format("the manifest has no integer \"{}\"", key));
  const int E = doc["num_experts"].get<int>(), k = doc["top_k"].get<int>();
  if (E != m.num_experts || k != m.top_k)
    ctx.fail(fmt::format("recorded with num_experts {} and top_k {}, but the model ({}) has {} and {}; choose the "
                         "model it was recorded from", E, k, m.name, m.num_experts, m.top_k));
  if (!doc.contains("runs") || !doc["runs"].is_array() || doc["runs"].empty())
    ctx.fail("the manifest lists no \"runs\"");
  std::vector<RecordedRouting> runs;
  for (size_t i = 0; i < doc["runs"].size(); ++i) runs.push_back(load_run(ctx, doc["runs"][i], i, m));
  return runs;
}

RecordedRouting routing_prefix(const RecordedRouting& r, int64_t n) {
  if (n > r.routing.num_tokens) throw std::invalid_argument("routing_prefix(): more tokens than recorded");
  RecordedRouting p;
  p.name = r.name;
  p.routing.num_tokens = n;
  p.routing.top_k = r.routing.top_k;
  p.routing.num_experts = r.routing.num_experts;
  const size_t k = size_t(r.routing.top_k), E = size_t(r.routing.num_experts);
  p.routing.expert_ids.assign(r.routing.expert_ids.begin(), r.routing.expert_ids.begin() + ptrdiff_t(size_t(n) * k));
  p.routing.weights.assign(r.routing.weights.begin(), r.routing.weights.begin() + ptrdiff_t(size_t(n) * k));
  if (!r.logits.empty()) p.logits.assign(r.logits.begin(), r.logits.begin() + ptrdiff_t(size_t(n) * E));
  return p;
}

}  // namespace moebench
