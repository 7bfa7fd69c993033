// moebench throughput: tokens/s -> tokens/day, days to a token target, GPU-hours, dollars, the
// savings of one result over another, and multi-GPU scaling efficiency (seed 004).
#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include "analysis/throughput.hpp"
#include "cli/command.hpp"
#include "cli/vocabulary.hpp"
#include "core/errors.hpp"
#include "report/throughput_report.hpp"

namespace moebench::cli {

namespace {

// Seed 004's example (8x H100, baseline vs SonicMoE), shown when no throughput is given.
constexpr const char* kExampleTokensPerSec = "1240";
constexpr const char* kExampleCompareTokensPerSec = "2305";
constexpr int kExampleGpus = 8;

struct ThroughputCommandOptions {
  std::string tokens_per_sec;
  std::optional<int> gpus;
  std::string target_tokens = "100B";
  double price_per_gpu_hour = 2.5;
  std::string compare_tokens_per_sec;
  std::optional<int> compare_gpus;
  std::string scaling;
  std::string output_format = "table";
};

int run_throughput(ThroughputCommandOptions o) {
  if (o.output_format != "table" && o.output_format != "json")
    throw InputError(fmt::format("--output-format: unknown format '{}': use table or json", o.output_format));
  if (o.tokens_per_sec.empty() && !o.compare_tokens_per_sec.empty())
    throw InputError("--compare-tokens-per-sec needs --tokens-per-sec (the baseline it is compared with)");
  if (o.tokens_per_sec.empty() && o.scaling.empty()) {
    o.tokens_per_sec = kExampleTokensPerSec;
    o.compare_tokens_per_sec = kExampleCompareTokensPerSec;
    if (!o.gpus) o.gpus = kExampleGpus;
    std::fprintf(stderr, "moebench throughput: no --tokens-per-sec given: the SonicMoE training example "
                         "(DeepSeek-V3.2-Exp), %s tok/s baseline vs %s tok/s on %d H100s\n",
                 kExampleTokensPerSec, kExampleCompareTokensPerSec, *o.gpus);
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

}  // namespace

Command add_throughput_command(CLI::App& app) {
  auto o = std::make_shared<ThroughputCommandOptions>();
  CLI::App* sub = app.add_subcommand("throughput", "tokens/s -> tokens/day, GPU-hours, cost, multi-GPU scaling");
  sub->add_option("--tokens-per-sec", o->tokens_per_sec,
                  "throughput of all GPUs together; K/M/B/T suffixes (default: the SonicMoE training example, 1240 vs 2305)");
  sub->add_option("--gpus", o->gpus, "GPUs that throughput used (default: 1; 8 for the example)");
  sub->add_option("--target-tokens", o->target_tokens, "tokens to process, e.g. 100B or 1T")->capture_default_str();
  sub->add_option("--price-per-gpu-hour", o->price_per_gpu_hour, "dollars per GPU-hour")->capture_default_str();
  sub->add_option("--compare-tokens-per-sec", o->compare_tokens_per_sec,
                  "a second result, compared with the first (time and money saved)");
  sub->add_option("--compare-gpus", o->compare_gpus, "GPUs of the second result (default: --gpus)");
  sub->add_option("--scaling", o->scaling, "GPUS:TOKENS_PER_SEC pairs for scaling efficiency, e.g. 1:1200,2:2300,4:4400");
  add_output_format(*sub, o->output_format, "table or json")->capture_default_str();
  return {sub, [o] { return run_throughput(*o); }};
}

}  // namespace moebench::cli
