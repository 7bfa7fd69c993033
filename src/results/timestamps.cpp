#include "results/timestamps.hpp"

#include <ctime>

namespace moebench {

namespace {

std::string format_time(const std::tm& tm, const char* format) {
  char buf[40];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

}  // namespace

std::string utc_now_iso() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  return format_time(tm, "%Y-%m-%dT%H:%M:%SZ");
}

std::string seed_local_time(const std::string& utc_iso) {
  std::tm tm{};
  const char* end = strptime(utc_iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end != '\0') return utc_iso;
  const std::time_t t = timegm(&tm);
  std::tm local{};
  localtime_r(&t, &local);
  return format_time(local, "%Y-%m-%dT%H:%M:%S");
}

}  // namespace moebench
