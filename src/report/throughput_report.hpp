#pragma once
// Writers of `moebench throughput`: the cost table (one or two runs side by side, with the
// savings), the scaling table, and both as one JSON document. They format; they do not compute.
#include <optional>
#include <string>
#include <vector>

#include "analysis/throughput.hpp"

namespace moebench {

struct ThroughputReport {
  double target_tokens = 0;
  double price_per_gpu_hour = 0;
  std::optional<TrainingCost> baseline;
  std::optional<TrainingCost> compare;  // --compare-tokens-per-sec
  std::optional<Savings> savings;       // compare over baseline
  std::vector<ScalingPoint> scaling;    // --scaling; empty when not asked
};

std::string format_throughput_table(const ThroughputReport& report);
std::string throughput_json(const ThroughputReport& report);

// 1234567.8 -> "1,234,568" (decimals = 0), "1,234,567.80" (decimals = 2).
std::string grouped_number(double value, int decimals);
// 1.0714e8 -> "107.14 M"; suffixes K, M, B, T as the flags accept them.
std::string token_count_text(double tokens);

}  // namespace moebench
