#pragma once
// The time base of a profile: microseconds since it began, on the host's steady clock.
// Device timestamps (CUPTI's, CUDA events') are converted onto it so that host phases and the
// kernels they launched line up on one timeline.
#include <chrono>
#include <cstdint>

namespace moebench {

class TraceClock {
 public:
  TraceClock() : origin_ns_(steady_ns()) {}
  static int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  // A steady-clock reading in profile microseconds.
  double to_us(int64_t steady_ns) const { return double(steady_ns - origin_ns_) * 1e-3; }
  double now_us() const { return to_us(steady_ns()); }

 private:
  int64_t origin_ns_;
};

}  // namespace moebench
