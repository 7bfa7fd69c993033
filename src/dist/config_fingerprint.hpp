#pragma once
// Every rank of a run must run the same configuration (model, shapes, implementation, dtype,
// routing, iterations...): a rank that does not would deadlock in a collective or, worse, time a
// different problem. The caller describes its configuration as a JSON object (its fingerprint);
// rank 0's rendezvous compares every rank's with its own and names the first field that differs.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace moebench {

// The first difference between `theirs` and `reference` (rank 0's), field by field in sorted
// order, as "FIELD THEIRS vs REFERENCE" (e.g. "num_tokens 512 vs 4096"; nested fields are dotted,
// array elements indexed, an absent field reads "(absent)"); nullopt when they are the same.
std::optional<std::string> config_difference(const nlohmann::json& theirs, const nlohmann::json& reference);

}  // namespace moebench
