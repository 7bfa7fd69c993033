#pragma once
// The figures `moebench model` reports for one batch size (seeds 000 and 001), from the raw
// times of its benchmark runs. A run is a prefill of the whole batch (TTFT: it yields each
// sequence's first token) followed by output_len - 1 decode steps (one token per sequence each).
#include <cstdint>
#include <vector>

#include "bench/statistics.hpp"

namespace moebench {

struct ModelRunTimes {
  double ttft_ms = 0;              // prefill of the batch, first tokens included
  double decode_ms = 0;            // all decode steps, first start to last stop
  std::vector<double> step_ms;     // each decode step (the inter-token latencies)
  double e2e_ms() const { return ttft_ms + decode_ms; }
};

struct ModelMetrics {
  LatencyStats ttft_ms;      // over runs
  LatencyStats tpot_ms;      // over runs: decode_ms / decode steps
  LatencyStats itl_ms;       // over every decode step of every run
  LatencyStats e2e_ms;       // over runs
  double decode_tok_per_sec_per_sample = 0;  // 1000 / mean TPOT
  double decode_tok_per_sec = 0;             // batch x the above (seed 001's output throughput)
  double prefill_tok_per_sec = 0;            // batch x input_len / mean TTFT
  double e2e_tok_per_sec_per_sample = 0;     // output_len / mean E2E
  double e2e_tok_per_sec = 0;                // batch x the above
};

// Throws std::invalid_argument for no runs or a run whose step count is not output_len - 1.
ModelMetrics model_metrics(const std::vector<ModelRunTimes>& runs, int64_t batch, int64_t input_len,
                           int64_t output_len);

}  // namespace moebench
