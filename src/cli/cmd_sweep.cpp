// moebench sweep: a config matrix (seed 002), each config in its own child process with a
// timeout, failures classified and stored, a Markdown table grouped by model at the end.
// The flags fill a SweepJob; the job itself is sweep/sweep_job.
#include <initializer_list>

#include <fmt/format.h>

#include "bench/layer_defaults.hpp"
#include "cli/command.hpp"
#include "cli/vocabulary.hpp"
#include "cli/record_options.hpp"
#include "sweep/sweep_job.hpp"

namespace moebench::cli {

namespace {

// Whether any of `flags` was on the command line.
bool given(const CLI::App& app, std::initializer_list<const char*> flags) {
  for (const char* flag : flags)
    if (app.count(flag) > 0) return true;
  return false;
}

}  // namespace

Command add_sweep_command(CLI::App& app) {
  auto o = std::make_shared<SweepJob>();
  CLI::App* sub = app.add_subcommand(
      "sweep", "config matrix (models x TP x EP x impl x tokens/batch), each config crash-isolated, results kept");
  SweepBlock& b = o->axes;
  sub->add_option("--matrix", o->matrix_file, "JSON or YAML sweep file (see README); or the axis flags below");
  sub->add_option("--command", b.command, "layer or model")->capture_default_str();
  sub->add_option("--model", b.models,
                  fmt::format("presets, comma-separated (default: {} on a GPU, {} on the CPU)",
                              kLayerGpuDefaultModel, kLayerCpuDefaultModel))
      ->delimiter(',');
  sub->add_option("--model-path", b.model_paths, "Hugging Face config.json files or directories")->delimiter(',');
  sub->add_option(kTpSizeFlags, b.tp_sizes, "TP sizes")->delimiter(',')->capture_default_str();
  sub->add_option(kEpSizeFlags, b.ep_sizes, "EP sizes")->delimiter(',')->capture_default_str();
  sub->add_option(kImplFlags, b.impls, "implementations, or all (model: its --impl)")->delimiter(',')->capture_default_str();
  sub->add_option("--dtype", b.dtypes, "dtypes")->delimiter(',')->capture_default_str();
  sub->add_option("--num-tokens", o->num_tokens, "layer: token counts (default: 64 512 4096 on a GPU, 32 128 on the CPU)")
      ->delimiter(',');
  sub->add_option("--scenarios", b.scenarios, "layer: routing scenarios")->delimiter(',')->capture_default_str();
  sub->add_option("--batch-size", b.batch_sizes, "model: batch sizes")->delimiter(',')->capture_default_str();
  sub->add_option(kInputLenFlags, b.input_lens, "model: input lengths")->delimiter(',')->capture_default_str();
  sub->add_option(kOutputLenFlags, b.output_lens, "model: output lengths")->delimiter(',')->capture_default_str();
  sub->add_option("--num-layers", b.num_layers, "model: run the first N layers (default: all)")->delimiter(',');
  sub->add_option(kWarmupItersFlags, b.warmup, "untimed iterations (model: runs) of each config");
  sub->add_option(kBenchmarkItersFlags, b.benchmark, "timed iterations (model: runs) of each config");
  sub->add_option("--timeout", o->timeout_s, "seconds each config may run before it is killed (Timeout)")
      ->capture_default_str();
  sub->add_option("--backend", o->backend, "auto (GPU if present), cuda or cpu")->capture_default_str();
  add_results_db_option(*sub, o->results_db);
  add_run_name_option(*sub, o->run_name);
  sub->add_flag("--dry-run", o->dry_run, "print each config's key and command line; run nothing");
  sub->add_flag("--quiet", o->quiet, "no progress on stderr");
  return {sub, [o, sub] {
            o->axis_flags_given = given(*sub, {"--model", "--model-path", "--tp-size", "--ep-size", "--impl", "--dtype",
                                               "--num-tokens", "--scenarios", "--command", "--batch-size",
                                               "--input-len", "--output-len", "--num-layers"});
            o->timeout_given = given(*sub, {"--timeout"});
            return run_sweep_job(*o, invocation());
          }};
}

}  // namespace moebench::cli
