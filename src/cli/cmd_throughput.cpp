// moebench throughput: tokens/s -> tokens/day, days to a token target, GPU-hours, dollars, the
// savings of one result over another, and multi-GPU scaling efficiency (seed 004). The flags fill
// a ThroughputJob; the job itself is report/throughput_job.
#include "cli/command.hpp"
#include "cli/vocabulary.hpp"
#include "report/throughput_job.hpp"

namespace moebench::cli {

Command add_throughput_command(CLI::App& app) {
  auto o = std::make_shared<ThroughputJob>();
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
  sub->add_option(kOutputFormatFlags, o->output_format, "table or json")->capture_default_str();
  return {sub, [o] { return run_throughput_job(*o); }};
}

}  // namespace moebench::cli
