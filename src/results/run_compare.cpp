// Two tagged runs compared configuration by configuration, within their noise (run_compare.hpp).
#include "results/run_compare.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace moebench {

namespace {

struct Side {
  int runs = 0;
  double p50_sum = 0, lo = INFINITY, hi = -INFINITY;
  double p50() const { return p50_sum / runs; }
};

double metric(const RunRecord& r, const char* name) {
  const auto it = r.metrics.find(name);
  return it != r.metrics.end() && it->is_number() ? it->get<double>() : NAN;
}

std::map<std::string, Side> sides_of(const std::vector<RunRecord>& records, int& left_out) {
  std::map<std::string, Side> sides;
  for (const RunRecord& r : records) {
    const double p50 = metric(r, "latency_p50_ms"), lo = metric(r, "latency_min_ms"), hi = metric(r, "latency_p95_ms");
    if (r.status != RunStatus::success || !std::isfinite(p50) || !std::isfinite(lo) || !std::isfinite(hi) || p50 <= 0) {
      ++left_out;
      continue;
    }
    Side& s = sides[r.key()];
    ++s.runs;
    s.p50_sum += p50;
    s.lo = std::min(s.lo, lo);
    s.hi = std::max(s.hi, hi);
  }
  return sides;
}

}  // namespace

RunNameComparison compare_run_names(const std::vector<RunRecord>& a, const std::vector<RunRecord>& b,
                                    double threshold_pct) {
  RunNameComparison out;
  const std::map<std::string, Side> sa = sides_of(a, out.left_out), sb = sides_of(b, out.left_out);
  for (const auto& [key, A] : sa) {
    const auto it = sb.find(key);
    if (it == sb.end()) {
      ++out.only_a;
      continue;
    }
    const Side& B = it->second;
    ConfigComparison c{key, A.runs, B.runs, A.p50(), B.p50(), A.lo, A.hi, B.lo, B.hi};
    c.change_pct = (c.b_p50 - c.a_p50) / c.a_p50 * 100;
    if (c.b_p50 > c.a_hi && c.b_lo > c.a_p50 && c.change_pct > threshold_pct)
      c.verdict = Verdict::worse;
    else if (c.b_p50 < c.a_lo && c.b_hi < c.a_p50 && -c.change_pct > threshold_pct)
      c.verdict = Verdict::better;
    out.rows.push_back(c);
  }
  for (const auto& [key, B] : sb) out.only_b += sa.count(key) == 0;
  return out;
}

}  // namespace moebench
