// `moebench throughput`'s run: the job's checks and defaults, the costs and the printed report
// (throughput_job.hpp).
#include "report/throughput_job.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "analysis/throughput.hpp"
#include "core/errors.hpp"
#include "report/throughput_report.hpp"

namespace moebench {

int run_throughput_job(ThroughputJob o) {
  if (o.output_format != "table" && o.output_format != "json")
    throw InputError(fmt::format("--output-format: unknown format '{}': use table or json", o.output_format));
  if (o.tokens_per_sec.empty() && !o.compare_tokens_per_sec.empty())
    throw InputError("--compare-tokens-per-sec needs --tokens-per-sec (the baseline it is compared with)");
  if (o.tokens_per_sec.empty() && o.scaling.empty()) {
    o.tokens_per_sec = kThroughputExampleTokensPerSec;
    o.compare_tokens_per_sec = kThroughputExampleCompareTokensPerSec;
    if (!o.gpus) o.gpus = kThroughputExampleGpus;
    std::fprintf(stderr, "moebench throughput: no --tokens-per-sec given: the SonicMoE training example "
                         "(DeepSeek-V3.2-Exp), %s tok/s baseline vs %s tok/s on %d H100s\n",
                 kThroughputExampleTokensPerSec, kThroughputExampleCompareTokensPerSec, *o.gpus);
  }

  if (o.compare_gpus && *o.compare_gpus <= 0)
    throw InputError(fmt::format("--compare-gpus must be a positive whole number (got {})", *o.compare_gpus));

  ThroughputReport report;
  report.target_tokens = parse_token_count(o.target_tokens, "--target-tokens");
  report.price_per_gpu_hour = o.price_per_gpu_hour;
  if (!o.tokens_per_sec.empty()) {
    const int gpus = o.gpus.value_or(1);
    report.baseline = training_cost({parse_token_count(o.tokens_per_sec, "--tokens-per-sec"), gpus},
                                    report.target_tokens, o.price_per_gpu_hour);
    if (!o.compare_tokens_per_sec.empty()) {
      report.compare = training_cost(
          {parse_token_count(o.compare_tokens_per_sec, "--compare-tokens-per-sec"), o.compare_gpus.value_or(gpus)},
          report.target_tokens, o.price_per_gpu_hour);
      report.savings = savings(*report.baseline, *report.compare);
    }
  }
  if (!o.scaling.empty()) report.scaling = scaling_efficiency(parse_scaling(o.scaling));

  std::fputs((o.output_format == "json" ? throughput_json(report) : format_throughput_table(report)).c_str(), stdout);
  return 0;
}

}  // namespace moebench
