#include "dist/config_fingerprint.hpp"

#include <map>

#include <fmt/format.h>

namespace moebench {

namespace {

// Leaves of a JSON value by path: {"a": {"b": 1}, "c": [2]} -> {"a.b": 1, "c[0]": 2}. An empty
// object or array is a leaf of its own, so that {} and {"x": 1} still differ.
void flatten(const nlohmann::json& value, const std::string& path, std::map<std::string, nlohmann::json>& leaves) {
  if (value.is_object() && !value.empty()) {
    for (const auto& [key, item] : value.items()) flatten(item, path.empty() ? key : path + "." + key, leaves);
  } else if (value.is_array() && !value.empty()) {
    for (size_t i = 0; i < value.size(); ++i) flatten(value[i], fmt::format("{}[{}]", path, i), leaves);
  } else {
    leaves[path] = value;
  }
}

std::string shown(const std::map<std::string, nlohmann::json>& leaves, const std::string& path) {
  const auto it = leaves.find(path);
  if (it == leaves.end()) return "(absent)";
  return it->second.is_string() ? it->second.get<std::string>() : it->second.dump();
}

}  // namespace

std::optional<std::string> config_difference(const nlohmann::json& theirs, const nlohmann::json& reference) {
  std::map<std::string, nlohmann::json> a, b;
  flatten(theirs, "", a);
  flatten(reference, "", b);
  auto ia = a.begin();
  auto ib = b.begin();
  while (ia != a.end() || ib != b.end()) {
    std::string path;
    if (ib == b.end() || (ia != a.end() && ia->first < ib->first)) path = ia->first;
    else if (ia == a.end() || ib->first < ia->first) path = ib->first;
    else if (ia->second != ib->second) path = ia->first;
    else {
      ++ia;
      ++ib;
      continue;
    }
    return fmt::format("{} {} vs {}", path.empty() ? "configuration" : path, shown(a, path), shown(b, path));
  }
  return std::nullopt;
}

}  // namespace moebench
