#pragma once
// Summary statistics of a series of timings.
#include <vector>

namespace moebench {

struct LatencyStats {
  int count = 0;
  double mean = 0, std = 0, p50 = 0, p95 = 0, p99 = 0, min = 0, max = 0;
};

// Percentiles by linear interpolation between closest ranks (numpy's default); std is the
// sample standard deviation (n - 1), 0 for a single sample. Empty input gives all zeros.
LatencyStats summarize(std::vector<double> samples);

}  // namespace moebench
