#pragma once
// Typed reading of the fields of a JSON object (a config.json, a preset), where every problem
// becomes an InputError of one line that names the file and the field:
//   config.json: missing field "num_experts"
//   config.json: field "hidden_size" must be a positive integer (got "abc")
// No nlohmann exception leaves this file: wrong types, nulls and out-of-range numbers are all
// reported this way.
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moebench {

// Parses `text`, which must hold one JSON object. Malformed text becomes
// `<origin>: not valid JSON at line L, column C: <what the parser expected>`.
nlohmann::json parse_json_object(const std::string& text, const std::string& origin);

class JsonFields {
 public:
  // `object` must outlive this reader. `prefix` is put before field names in messages
  // (for nested objects: "_moebench.").
  JsonFields(const nlohmann::json& object, std::string origin, std::string prefix = "");

  const std::string& origin() const { return origin_; }

  // Present and not null (HF configs write null for "not used", e.g. "q_lora_rank": null).
  bool has(const char* key) const;
  // The first of `keys` that is present; throws `missing field "a" (or "b")` when none is.
  const char* first_present(std::initializer_list<const char*> keys) const;

  // Integers are whole JSON numbers in 1 .. 2^31-1 (4096.0 counts as 4096).
  int positive_int(const char* key) const;  // required
  int positive_int_or(const char* key, int fallback) const;
  int non_negative_int_or(const char* key, int fallback) const;  // null counts as absent
  // A list of non-negative integers; absent or null is an empty list.
  std::vector<int> non_negative_int_list(const char* key) const;
  // A list of strings; absent or null is an empty list.
  std::vector<std::string> string_list(const char* key) const;
  double positive_number_or(const char* key, double fallback) const;
  bool bool_or(const char* key, bool fallback) const;
  std::string string_or(const char* key, const std::string& fallback) const;
  // A nested object, or nothing when absent or null; anything else is an error.
  std::optional<JsonFields> object(const char* key) const;
  // Keys of this object that are not in `known`.
  std::vector<std::string> unknown_keys(std::initializer_list<const char*> known) const;

  // Throws InputError("<origin>: <message>").
  [[noreturn]] void fail(const std::string& message) const;
  // `field "<prefix><key>" must be <what> (got <value>)`.
  [[noreturn]] void fail_value(const char* key, const char* what) const;
  std::string field_name(const char* key) const { return prefix_ + key; }

 private:
  const nlohmann::json& object_;
  std::string origin_;
  std::string prefix_;
};

}  // namespace moebench
