#pragma once
// `results compare A B`: every metric the two runs share, B against A, as a speedup (> 1 is
// better, whichever way the metric points) and a change in percent, flagged when it moves
// past the threshold.
#include <string>
#include <vector>

#include "results/run_record.hpp"

namespace moebench {

// Latencies, times, errors and bytes are better lower; throughputs, TFLOP/s, GB/s and
// efficiency are better higher. Told apart by the metric's name (its unit suffix).
bool higher_is_better(const std::string& metric);

enum class Verdict { better, worse, same, unknown };

struct MetricComparison {
  std::string metric;
  double a = 0, b = 0;
  double speedup = 0;     // > 1: B is better
  double change_pct = 0;  // (b - a) / a * 100
  Verdict verdict = Verdict::unknown;  // unknown where a value is missing or zero
};

// `threshold_pct`: how far past equal (in percent of A) a change must go to be flagged.
std::vector<MetricComparison> compare_runs(const RunRecord& a, const RunRecord& b, double threshold_pct);

}  // namespace moebench
