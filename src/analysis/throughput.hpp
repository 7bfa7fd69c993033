#pragma once
// Tokens per second -> tokens per day, time to a token target, GPU-hours and dollars, and the
// scaling efficiency of a run over more GPUs (seed 004's throughput.py, with the formulas
// right: seed 004's tables are not self-consistent, 1,240 tok/s is 107 M tokens/day, not 100 B).
//
//   tokens/day        = tokens/s * 86,400
//   days to target    = target / tokens/day
//   GPU-hours         = gpus * target / tokens/s / 3,600       GPU-days = GPU-hours / 24
//   cost              = GPU-hours * price per GPU-hour
//   scaling efficiency at N GPUs = (tokens/s at N / N) / (tokens/s at base / base)
//
// Throughput is the aggregate over all the run's GPUs. The functions take plain numbers so a
// stored result's tokens/s can be fed in as well as a typed one.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moebench {

// A positive count with an optional decimal suffix K, M, B or T (10^3 .. 10^12; k, m, b, t
// too): "100B", "1.5T", "2305". Throws InputError "<flag> 'text': ..." when malformed, not
// finite or not positive.
double parse_token_count(const std::string& text, const std::string& flag);

struct ThroughputRun {
  double tokens_per_sec = 0;  // all GPUs together
  int gpus = 1;
};

struct TrainingCost {
  double tokens_per_sec = 0;
  int gpus = 1;
  double tokens_per_sec_per_gpu = 0;
  double tokens_per_day = 0;
  double days_to_target = 0;
  double gpu_hours = 0;
  double gpu_days = 0;
  double cost = 0;  // dollars
};

// Throws InputError when a number is not positive and finite, or a figure would not be.
TrainingCost training_cost(const ThroughputRun& run, double target_tokens, double price_per_gpu_hour);

// What `candidate` saves over `baseline` on the same token target (negative: it costs more).
struct Savings {
  double speedup = 0;  // candidate tokens/s / baseline tokens/s
  double days_saved = 0;
  double gpu_hours_saved = 0;
  double cost_saved = 0;
  double cost_saved_fraction = 0;  // of the baseline's cost
};
Savings savings(const TrainingCost& baseline, const TrainingCost& candidate);

struct ScalingPoint {
  int gpus = 0;
  double tokens_per_sec = 0;
  double tokens_per_sec_per_gpu = 0;
  double speedup = 0;     // over the base point
  double efficiency = 0;  // per-GPU throughput / the base point's
};

// "1:1200,2:2300,4:4400" -> (gpus, tokens/s) pairs. Throws InputError naming --scaling.
std::vector<ThroughputRun> parse_scaling(const std::string& text);
// Sorted by GPU count; the base is the point with the fewest GPUs. Needs two points or more
// with distinct GPU counts (InputError otherwise).
std::vector<ScalingPoint> scaling_efficiency(std::vector<ThroughputRun> runs);

}  // namespace moebench
