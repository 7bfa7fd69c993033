#pragma once
// The results store's schema, one migration per version: migration i (0-based) takes a
// database from version i to version i + 1. A released migration is never edited; a change
// of schema is a new one appended here.
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace moebench {

const std::vector<const char*>& store_migrations();

// The metric names migration 2 renames in the records of kind layer and model, {old, new}. A
// reading command never migrates a store (it opens it read-only): it reads an older one as it
// is and renames these in memory, so it sees what the migrated store would hold.
const std::vector<std::pair<std::string, std::string>>& metric_renames_of_migration_2();

// `metrics` of a record of `kind` stored at `schema_version`, with the names of later
// migrations; the keys keep their order.
nlohmann::ordered_json metrics_at_current_schema(const nlohmann::ordered_json& metrics, const std::string& kind,
                                                 int schema_version);

}  // namespace moebench
