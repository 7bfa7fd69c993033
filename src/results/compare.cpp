#include "results/compare.hpp"

#include <cmath>

namespace moebench {

bool higher_is_better(const std::string& m) {
  for (const char* higher : {"throughput", "_per_s", "tflops", "gbps", "efficiency"})
    if (m.find(higher) != std::string::npos) return true;
  return false;
}

std::vector<MetricComparison> compare_runs(const RunRecord& a, const RunRecord& b, double threshold_pct) {
  std::vector<MetricComparison> out;
  for (const auto& [name, value_a] : a.metrics.items()) {
    if (!b.metrics.contains(name)) continue;
    const auto& value_b = b.metrics[name];
    MetricComparison c;
    c.metric = name;
    c.a = value_a.is_number() ? value_a.get<double>() : NAN;
    c.b = value_b.is_number() ? value_b.get<double>() : NAN;
    if (std::isfinite(c.a) && std::isfinite(c.b) && c.a != 0 && c.b != 0) {
      const bool higher = higher_is_better(name);
      c.speedup = higher ? c.b / c.a : c.a / c.b;
      c.change_pct = (c.b - c.a) / std::fabs(c.a) * 100;
      // Percent of the better direction's gain or loss, so that +10% throughput and -10%
      // latency both read as 10% better.
      const double gain_pct = higher ? c.change_pct : -c.change_pct;
      c.verdict = gain_pct > threshold_pct ? Verdict::better : gain_pct < -threshold_pct ? Verdict::worse : Verdict::same;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace moebench
