#pragma once
// `moebench throughput` as a job: what the user asked for, as given (ThroughputJob), and the
// whole run of it (run_throughput_job): the output format and the flags that need each other
// checked, seed 004's SonicMoE example when no throughput is given, the costs, savings and
// scaling computed and printed. The command line only fills a ThroughputJob; tests build one.
#include <optional>
#include <string>

namespace moebench {

// Seed 004's example (8x H100, baseline vs SonicMoE), shown when no throughput is given.
inline constexpr const char* kThroughputExampleTokensPerSec = "1240";
inline constexpr const char* kThroughputExampleCompareTokensPerSec = "2305";
inline constexpr int kThroughputExampleGpus = 8;

struct ThroughputJob {
  std::string tokens_per_sec;  // empty (and no scaling): the example above
  std::optional<int> gpus;     // unset: 1, or the example's 8
  std::string target_tokens = "100B";
  double price_per_gpu_hour = 2.5;
  std::string compare_tokens_per_sec;
  std::optional<int> compare_gpus;  // unset: gpus
  std::string scaling;              // GPUS:TOKENS_PER_SEC pairs; empty: none
  std::string output_format = "table";  // table or json
};

// Prints the report (table or JSON) on stdout, and on stderr which example stands in when no
// throughput was given. Returns 0. Throws InputError for bad input before anything is printed.
int run_throughput_job(ThroughputJob job);

}  // namespace moebench
