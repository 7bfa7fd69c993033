#pragma once
// Timestamps of stored runs: ISO-8601 in UTC with a trailing Z, so that text order is time
// order and two machines' records compare.
#include <string>

namespace moebench {

// Now, "2025-11-27T23:45:12Z".
std::string utc_now_iso();
// Seed 002's "last_updated": the same instant in local time without a zone,
// "2025-11-28T00:45:12" (what Python's datetime.now().isoformat() printed there, to the second).
// Text that is not a stored UTC timestamp is returned unchanged.
std::string seed_local_time(const std::string& utc_iso);

}  // namespace moebench
