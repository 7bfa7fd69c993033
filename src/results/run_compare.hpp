#pragma once
// `results compare --run-name A B`: two tagged runs (--run-name: their records' group),
// configuration by configuration. Only configurations both runs hold are compared, by their
// latency p50 (layer records: latency_p50_ms), within a noise band from each run's own spread:
// over a configuration's records in the run (repeat runs under one name add records), the band
// is [the lowest latency_min_ms, the highest latency_p95_ms]. B is a REGRESSION only when its
// p50 lies above A's band, its fastest iteration above A's p50, and the change exceeds the
// threshold; "better" mirrors it; anything else is "same" (within the noise). Records without
// these metrics (model runs, failures) are left out and counted.
#include <string>
#include <vector>

#include "results/compare.hpp"
#include "results/run_record.hpp"

namespace moebench {

struct ConfigComparison {
  std::string key;                 // model::config
  int a_runs = 0, b_runs = 0;      // records of the configuration in each run
  double a_p50 = 0, b_p50 = 0;     // mean of the records' latency_p50_ms
  double a_lo = 0, a_hi = 0;       // A's band
  double b_lo = 0, b_hi = 0;       // B's band
  double change_pct = 0;           // (b_p50 - a_p50) / a_p50 * 100
  Verdict verdict = Verdict::same;
};

struct RunNameComparison {
  std::vector<ConfigComparison> rows;  // configurations in both runs, by key
  int only_a = 0, only_b = 0;          // configurations in one run only
  int left_out = 0;                    // records without latency p50 / min / p95, or not successes
};

RunNameComparison compare_run_names(const std::vector<RunRecord>& a, const std::vector<RunRecord>& b,
                                    double threshold_pct);

}  // namespace moebench
