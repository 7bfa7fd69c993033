// moebench model: the end-to-end inference benchmark (seeds 000 and 001). Parsing and
// presentation only; the run itself is bench/model_runner.
#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include "backend/backend.hpp"
#include "bench/model_runner.hpp"
#include "cli/command.hpp"
#include "cli/model_options.hpp"
#include "cli/profile_options.hpp"
#include "cli/record_options.hpp"
#include "core/errors.hpp"
#include "core/test_fault.hpp"
#include "model/decoder_config.hpp"
#include "bench/model_report.hpp"
#include "core/output_files.hpp"
#include "results/environment.hpp"
#include "bench/model_records.hpp"
#include "results/timestamps.hpp"

namespace moebench::cli {

namespace {

// The embedded default: a real model on a GPU at sizes that finish in about a minute, and the
// tiny preset on the CPU, where the whole default runs in seconds.
constexpr const char* kGpuDefaultModel = "qwen3-30b-a3b";
constexpr const char* kCpuDefaultModel = "tiny";
const std::vector<int64_t> kGpuDefaultBatches = {1, 8};
const std::vector<int64_t> kCpuDefaultBatches = {1, 2};
constexpr int64_t kGpuDefaultInput = 1024, kGpuDefaultOutput = 64;
constexpr int64_t kCpuDefaultInput = 32, kCpuDefaultOutput = 8;

struct ModelCommandOptions {
  ModelOptions model;
  std::vector<int64_t> batch_sizes;
  std::optional<int64_t> input_len;
  std::optional<int64_t> output_len;
  int warmup_runs = 1;
  int benchmark_runs = 3;
  std::string dtype = "bf16";
  std::optional<int> num_layers;
  std::string moe_impl;  // empty: auto on the GPU, reference on the CPU
  int tp_size = 1;
  int ep_size = 1;
  int64_t chunked_prefill_size = 8192;
  std::string backend = "auto";
  uint64_t seed = 0;
  std::string output_format;
  std::string output_file;
  bool quiet = false;
  ProfileOptions profile;
  RecordOptions record;
};

int run_model(const ModelCommandOptions& o, const std::string& command_line) {
  const BackendKind kind = parse_backend_kind(o.backend);
  std::optional<OutputFormat> format;
  const std::string base = o.output_file.empty() ? "./model_results" : o.output_file;
  if (!o.output_format.empty() || !o.output_file.empty()) {
    format = parse_output_format(o.output_format.empty() ? "all" : o.output_format);
    output_paths(*format, base);
    check_output_directory(base);
  }
  const bool gpu = kind != BackendKind::cpu && cuda_available();
  ModelRunOptions run;
  run.decoder = make_decoder_config(o.model.resolve(gpu ? kGpuDefaultModel : kCpuDefaultModel, /*whole_model=*/true),
                                    o.num_layers, parse_dtype(o.dtype));
  run.batch_sizes = o.batch_sizes.empty() ? (gpu ? kGpuDefaultBatches : kCpuDefaultBatches) : o.batch_sizes;
  run.input_len = o.input_len.value_or(gpu ? kGpuDefaultInput : kCpuDefaultInput);
  run.output_len = o.output_len.value_or(gpu ? kGpuDefaultOutput : kCpuDefaultOutput);
  run.warmup_runs = o.warmup_runs;
  run.benchmark_runs = o.benchmark_runs;
  run.moe_impl = o.moe_impl.empty() ? (gpu ? "auto" : "reference") : o.moe_impl;
  run.prefill_chunk = o.chunked_prefill_size;
  run.tp_size = o.tp_size;
  run.ep_size = o.ep_size;
  run.seed = o.seed;
  validate_model_options(run, gpu ? BackendKind::cuda : BackendKind::cpu);
  o.profile.check();

  std::unique_ptr<Backend> backend = make_backend(kind);
  // A run of which no batch size fits is refused here, before the store is opened or created.
  std::vector<BatchResult> planned = plan_batches(*backend, run);
  std::unique_ptr<ResultsStore> store = o.record.open();
  const RecordContext record_context{current_environment(backend->device_info(), backend->kind()), command_line,
                                     invocation_group_id("model"), utc_now_iso()};
  ModelProgressFn progress = [&](const std::string& what) {
    if (!o.quiet) std::fprintf(stderr, "moebench model: %s\n", what.c_str());
  };
  std::unique_ptr<Profiler> profiler = o.profile.start(*backend, "model", o.dtype, command_line);
  run.profiler = profiler.get();
  if (profiler) std::fprintf(stderr, "moebench model: the timed runs carry the tracing's overhead\n");
  ModelResult result;
  try {
    apply_test_fault();
    result = run_model_benchmark(*backend, run, std::move(planned), progress);
  } catch (const RuntimeFailure& e) {
    // Every planned batch size failed with the run: recorded, so that a sweep or a later look
    // at the store sees why.
    if (store) store->record(model_failure_records(run, record_context, e.kind(), e.what()));
    throw;
  }
  result.command_line = command_line;

  // The report and its files first: a store that fails now (busy, full disk) must not lose a
  // finished run's output.
  const std::string markdown = model_report_markdown(result);
  std::fputs(markdown.c_str(), stdout);
  if (format)
    for (const std::string& path : write_outputs(*format, base, model_sweep_csv(result), markdown,
                                                 model_result_json(result)))
      std::fprintf(stderr, "wrote %s\n", path.c_str());
  if (profiler)
    std::fprintf(stderr, "wrote a Chrome trace per batch size (Perfetto: ui.perfetto.dev) to %s\n",
                 o.profile.dir.c_str());
  if (store) {
    store->record(model_records(run, result, record_context));
    if (!o.quiet)
      std::fprintf(stderr, "recorded %zu results in %s\n", result.batches.size(), store->path().c_str());
  }
  if (result.any_failed()) {
    std::fprintf(stderr, "moebench model: a batch size FAILED at run time (see its section)\n");
    return 1;
  }
  return 0;
}

}  // namespace

Command add_model_command(CLI::App& app) {
  auto o = std::make_shared<ModelCommandOptions>();
  CLI::App* sub = app.add_subcommand("model", "end-to-end inference benchmark: TTFT, TPOT, ITL, throughput per batch size");
  add_model_flags(*sub, o->model,
                  std::string(kGpuDefaultModel) + " on a GPU, " + kCpuDefaultModel + " on the CPU");
  add_decoder_flags(*sub, o->model);
  sub->add_option("--batch-size", o->batch_sizes, "batch sizes, comma-separated (default: 1,8 on a GPU, 1,2 on the CPU)")
      ->delimiter(',');
  sub->add_option("--input-len", o->input_len, "prompt tokens per sequence (default: 1024 on a GPU, 32 on the CPU)");
  sub->add_option("--output-len", o->output_len, "generated tokens per sequence (default: 64 on a GPU, 8 on the CPU)");
  sub->add_option("--warmup-runs", o->warmup_runs, "untimed runs first")->capture_default_str();
  sub->add_option("--benchmark-runs", o->benchmark_runs, "timed runs per batch size")->capture_default_str();
  sub->add_option("--dtype", o->dtype, "bf16 or fp16")->capture_default_str();
  sub->add_option("--num-layers", o->num_layers, "run the first N layers only (stated in the output)");
  sub->add_option("--moe-impl", o->moe_impl, "MoE layer implementation (default: auto on a GPU, reference on the CPU)");
  sub->add_option("--tp-size", o->tp_size, "GPUs (checked against the heads; this build runs 1)")->capture_default_str();
  sub->add_option("--ep-size", o->ep_size, "expert-parallel size (checked against the experts; this build runs 1)")
      ->capture_default_str();
  sub->add_option("--chunked-prefill-size", o->chunked_prefill_size, "most prompt tokens per prefill step")
      ->capture_default_str();
  sub->add_option("--backend", o->backend, "auto (GPU if present), cuda or cpu")->capture_default_str();
  sub->add_option("--seed", o->seed, "seed of weights and prompts")->capture_default_str();
  sub->add_option("--output-format", o->output_format, "csv (batch sweep), markdown, json, all");
  sub->add_option("--output-file", o->output_file, "output base path (default ./model_results)");
  sub->add_flag("--quiet", o->quiet, "no progress on stderr");
  add_profile_flags(
      *sub, o->profile,
      "after each batch size's timed runs, trace a prefill and a few decode steps (Chrome trace per batch size)");
  add_record_flags(*sub, o->record);
  return {sub, [o] { return run_model(*o, invocation()); }};
}

}  // namespace moebench::cli
