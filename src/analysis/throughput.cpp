#include "analysis/throughput.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/errors.hpp"

namespace moebench {

namespace {

constexpr double kSecondsPerDay = 86400.0;
constexpr double kSecondsPerHour = 3600.0;

void require_positive(double value, const char* what) {
  if (!(value > 0) || !std::isfinite(value))
    throw InputError(fmt::format("{} must be a positive number (got {})", what, value));
}

// A whole positive number of GPUs, or nothing.
std::optional<int> parse_gpu_count(const std::string& text) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

std::string trim(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

}  // namespace

double parse_token_count(const std::string& text, const std::string& flag) {
  const std::string bad = fmt::format("{} '{}': expected a positive number with an optional K, M, B or T suffix "
                                      "(e.g. 2305, 1.2K, 100B)",
                                      flag, text);
  std::string number = trim(text);
  double scale = 1;
  if (!number.empty()) {
    switch (number.back()) {
      case 'K': case 'k': scale = 1e3; break;
      case 'M': case 'm': scale = 1e6; break;
      case 'B': case 'b': scale = 1e9; break;
      case 'T': case 't': scale = 1e12; break;
      default: break;
    }
    if (scale != 1) number.pop_back();
  }
  double value = 0;
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || error != std::errc() || end != number.data() + number.size()) throw InputError(bad);
  value *= scale;
  if (!(value > 0) || !std::isfinite(value)) throw InputError(bad);
  return value;
}

TrainingCost training_cost(const ThroughputRun& run, double target_tokens, double price_per_gpu_hour) {
  require_positive(run.tokens_per_sec, "tokens per second");
  if (run.gpus <= 0) throw InputError(fmt::format("--gpus must be a positive whole number (got {})", run.gpus));
  require_positive(target_tokens, "--target-tokens");
  require_positive(price_per_gpu_hour, "--price-per-gpu-hour");
  TrainingCost c;
  c.tokens_per_sec = run.tokens_per_sec;
  c.gpus = run.gpus;
  c.tokens_per_sec_per_gpu = run.tokens_per_sec / run.gpus;
  c.tokens_per_day = run.tokens_per_sec * kSecondsPerDay;
  c.days_to_target = target_tokens / c.tokens_per_day;
  c.gpu_hours = double(run.gpus) * target_tokens / run.tokens_per_sec / kSecondsPerHour;
  c.gpu_days = c.gpu_hours / 24.0;
  c.cost = c.gpu_hours * price_per_gpu_hour;
  // Finite inputs can still give figures past what a double holds (1e-310 tokens/s): refused,
  // never printed as inf.
  for (double figure : {c.tokens_per_sec_per_gpu, c.tokens_per_day, c.days_to_target, c.gpu_hours, c.cost})
    if (!std::isfinite(figure) || figure == 0)
      throw InputError(fmt::format("--tokens-per-sec {:g} with --target-tokens {:g} and --price-per-gpu-hour {:g}: "
                                   "the figures are out of range; give numbers of a realistic size",
                                   run.tokens_per_sec, target_tokens, price_per_gpu_hour));
  return c;
}

Savings savings(const TrainingCost& baseline, const TrainingCost& candidate) {
  Savings s;
  s.speedup = candidate.tokens_per_sec / baseline.tokens_per_sec;
  s.days_saved = baseline.days_to_target - candidate.days_to_target;
  s.gpu_hours_saved = baseline.gpu_hours - candidate.gpu_hours;
  s.cost_saved = baseline.cost - candidate.cost;
  s.cost_saved_fraction = s.cost_saved / baseline.cost;
  return s;
}

std::vector<ThroughputRun> parse_scaling(const std::string& text) {
  std::vector<ThroughputRun> runs;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    size_t colon = item.find(':');
    std::optional<int> gpus = colon == std::string::npos ? std::nullopt : parse_gpu_count(trim(item.substr(0, colon)));
    if (!gpus)
      throw InputError(fmt::format("--scaling: '{}' is not GPUS:TOKENS_PER_SEC with a positive whole GPU count "
                                   "(e.g. --scaling 1:1200,2:2300,4:4400)",
                                   item));
    runs.push_back({parse_token_count(item.substr(colon + 1), "--scaling (" + item + ")"), *gpus});
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return runs;
}

std::vector<ScalingPoint> scaling_efficiency(std::vector<ThroughputRun> runs) {
  std::sort(runs.begin(), runs.end(), [](const ThroughputRun& a, const ThroughputRun& b) { return a.gpus < b.gpus; });
  if (runs.size() < 2)
    throw InputError("--scaling needs two or more GPUS:TOKENS_PER_SEC pairs (e.g. 1:1200,2:2300)");
  for (size_t i = 0; i < runs.size(); ++i) {
    require_positive(runs[i].tokens_per_sec, "--scaling tokens per second");
    if (runs[i].gpus <= 0) throw InputError(fmt::format("--scaling: GPU counts must be positive (got {})", runs[i].gpus));
    if (i > 0 && runs[i].gpus == runs[i - 1].gpus)
      throw InputError(fmt::format("--scaling gives {} GPUs twice: give each GPU count once", runs[i].gpus));
  }
  const ThroughputRun& base = runs.front();
  const double base_per_gpu = base.tokens_per_sec / base.gpus;
  std::vector<ScalingPoint> points;
  for (const ThroughputRun& r : runs) {
    ScalingPoint p;
    p.gpus = r.gpus;
    p.tokens_per_sec = r.tokens_per_sec;
    p.tokens_per_sec_per_gpu = r.tokens_per_sec / r.gpus;
    p.speedup = r.tokens_per_sec / base.tokens_per_sec;
    p.efficiency = p.tokens_per_sec_per_gpu / base_per_gpu;
    points.push_back(p);
  }
  return points;
}

}  // namespace moebench
