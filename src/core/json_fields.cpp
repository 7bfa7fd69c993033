#include "core/json_fields.hpp"

#include <fmt/format.h>

#include <climits>
#include <cmath>

#include "core/errors.hpp"

namespace moebench {

namespace {

using nlohmann::json;

// A value as it appears in the file, cut short so the message stays one readable line.
std::string shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

// Newlines and other control characters would break the one-line message.
std::string one_line(std::string text) {
  for (char& ch : text)
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  return text;
}

// A whole number within int range (4096.0 counts as 4096), or nothing.
std::optional<int> whole_number(const json& value) {
  if (value.is_number_integer()) {
    // Unsigned values above INT64_MAX are stored as such; compare without overflow.
    if (value.is_number_unsigned()) {
      auto v = value.get<uint64_t>();
      if (v > uint64_t(INT_MAX)) return std::nullopt;
      return int(v);
    }
    auto v = value.get<int64_t>();
    if (v < INT_MIN || v > INT_MAX) return std::nullopt;
    return int(v);
  }
  if (value.is_number_float()) {
    double v = value.get<double>();
    if (!std::isfinite(v) || v != std::floor(v) || v < double(INT_MIN) || v > double(INT_MAX))
      return std::nullopt;
    return int(v);
  }
  return std::nullopt;
}

}  // namespace

json parse_json_object(const std::string& text, const std::string& origin) {
  json value;
  try {
    value = json::parse(text);
  } catch (const json::parse_error& e) {
    // nlohmann says "[json.exception.parse_error.101] parse error at line 3, column 5: <detail>";
    // keep "line 3, column 5: <detail>".
    std::string what = e.what();
    std::string::size_type at = what.find("parse error at ");
    std::string where = at == std::string::npos ? fmt::format("byte {}: {}", e.byte, what)
                                                : what.substr(at + std::string("parse error at ").size());
    throw InputError(fmt::format("{}: not valid JSON at {}", origin, one_line(where)));
  }
  if (!value.is_object())
    throw InputError(fmt::format("{}: expected a JSON object {{...}} at the top level (got {})", origin,
                                 value.type_name()));
  return value;
}

JsonFields::JsonFields(const json& object, std::string origin, std::string prefix)
    : object_(object), origin_(std::move(origin)), prefix_(std::move(prefix)) {}

bool JsonFields::has(const char* key) const {
  auto it = object_.find(key);
  return it != object_.end() && !it->is_null();
}

const char* JsonFields::first_present(std::initializer_list<const char*> keys) const {
  for (const char* key : keys)
    if (has(key)) return key;
  std::string message = fmt::format("missing field \"{}\"", field_name(*keys.begin()));
  if (keys.size() > 1) {
    std::string others;
    for (auto it = keys.begin() + 1; it != keys.end(); ++it)
      others += fmt::format("{}\"{}\"", others.empty() ? "" : " or ", field_name(*it));
    message += " (or " + others + ")";
  }
  fail(message);
}

int JsonFields::positive_int(const char* key) const {
  if (object_.find(key) == object_.end()) fail(fmt::format("missing field \"{}\"", field_name(key)));
  std::optional<int> v = whole_number(object_.at(key));
  if (!v || *v <= 0) fail_value(key, "a positive integer");
  return *v;
}

int JsonFields::positive_int_or(const char* key, int fallback) const {
  return has(key) ? positive_int(key) : fallback;
}

int JsonFields::non_negative_int_or(const char* key, int fallback) const {
  if (!has(key)) return fallback;
  std::optional<int> v = whole_number(object_.at(key));
  if (!v || *v < 0) fail_value(key, "a non-negative integer");
  return *v;
}

std::vector<int> JsonFields::non_negative_int_list(const char* key) const {
  std::vector<int> list;
  if (!has(key)) return list;
  const json& value = object_.at(key);
  if (!value.is_array()) fail_value(key, "a list of non-negative integers");
  for (const json& item : value) {
    std::optional<int> v = whole_number(item);
    if (!v || *v < 0) fail_value(key, "a list of non-negative integers");
    list.push_back(*v);
  }
  return list;
}

std::vector<std::string> JsonFields::string_list(const char* key) const {
  std::vector<std::string> list;
  if (!has(key)) return list;
  const json& value = object_.at(key);
  if (!value.is_array()) fail_value(key, "a list of strings");
  for (const json& item : value) {
    if (!item.is_string()) fail_value(key, "a list of strings");
    list.push_back(item.get<std::string>());
  }
  return list;
}

double JsonFields::positive_number_or(const char* key, double fallback) const {
  if (!has(key)) return fallback;
  const json& value = object_.at(key);
  if (!value.is_number() || !(value.get<double>() > 0) || !std::isfinite(value.get<double>()))
    fail_value(key, "a positive number");
  return value.get<double>();
}

bool JsonFields::bool_or(const char* key, bool fallback) const {
  if (!has(key)) return fallback;
  const json& value = object_.at(key);
  if (!value.is_boolean()) fail_value(key, "true or false");
  return value.get<bool>();
}

std::string JsonFields::string_or(const char* key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const json& value = object_.at(key);
  if (!value.is_string()) fail_value(key, "a string");
  return value.get<std::string>();
}

std::optional<JsonFields> JsonFields::object(const char* key) const {
  if (!has(key)) return std::nullopt;
  const json& value = object_.at(key);
  if (!value.is_object()) fail_value(key, "an object {...}");
  return JsonFields(value, origin_, prefix_ + key + ".");
}

std::vector<std::string> JsonFields::unknown_keys(std::initializer_list<const char*> known) const {
  std::vector<std::string> unknown;
  for (const auto& item : object_.items()) {
    bool is_known = false;
    for (const char* k : known) is_known = is_known || item.key() == k;
    if (!is_known) unknown.push_back(item.key());
  }
  return unknown;
}

void JsonFields::fail(const std::string& message) const {
  throw InputError(fmt::format("{}: {}", origin_, one_line(message)));
}

void JsonFields::fail_value(const char* key, const char* what) const {
  fail(fmt::format("field \"{}\" must be {} (got {})", field_name(key), what, shown(object_.at(key))));
}

}  // namespace moebench
