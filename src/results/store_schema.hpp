#pragma once
// The results store's schema, one migration per version: migration i (0-based) takes a
// database from version i to version i + 1. A released migration is never edited; a change
// of schema is a new one appended here.
#include <vector>

namespace moebench {

const std::vector<const char*>& store_migrations();

}  // namespace moebench
