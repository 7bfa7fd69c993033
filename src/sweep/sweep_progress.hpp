#pragma once
// The sweep's progress on stderr: on a terminal one bar redrawn in place ("[#####-----] 3/12
// 25% ETA 0:42 ok 2 failed 1 now: key"), elsewhere one plain line per finished config. The ETA
// is the mean time of the configs done so far times the configs left.
#include <chrono>
#include <cstdio>
#include <string>

namespace moebench {

// "0:42", "12:05", "1:02:03".
std::string format_duration(double seconds);

class SweepProgress {
 public:
  // `out` null: silent.
  SweepProgress(int total, bool terminal, std::FILE* out);
  void begin(int index, const std::string& key);
  // `note`: "ok", or the failure's "KIND: message".
  void end(int index, const std::string& key, bool ok, const std::string& note);
  void finish();

 private:
  std::string eta() const;
  void draw(const std::string& key);

  int total_;
  bool terminal_;
  std::FILE* out_;
  int done_ = 0, ok_ = 0, failed_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point config_start_ = start_;
};

}  // namespace moebench
