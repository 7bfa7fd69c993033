// run_model_job: `moebench model` from a ModelJob to its exit code (model_job.hpp). Every
// check of the input, the fit of the batch sizes included, comes before the results store is
// opened and before anything runs.
#include "bench/model_job.hpp"

#include <cstdio>
#include <memory>

#include "bench/model_records.hpp"
#include "bench/model_report.hpp"
#include "bench/writers.hpp"
#include "core/errors.hpp"
#include "core/output_files.hpp"
#include "core/test_fault.hpp"
#include "model/decoder_config.hpp"
#include "results/environment.hpp"
#include "results/timestamps.hpp"

namespace moebench {

namespace {

std::string output_base(const ModelJob& o) { return o.output_file.empty() ? "./model_results" : o.output_file; }

// The formats of the result files, checked with their paths and directory; none when no file
// was asked for.
std::vector<const WriterEntry*> checked_writers(const ModelJob& o) {
  if (o.output_format.empty() && o.output_file.empty()) return {};
  const std::vector<const WriterEntry*> writers = parse_writers(o.output_format.empty() ? "all" : o.output_format);
  writer_paths(writers, output_base(o));
  check_output_directory(output_base(o));
  return writers;
}

}  // namespace

int model_exit_code(const ModelResult& result) {
  if (!result.any_failed()) return 0;
  std::fprintf(stderr, "moebench model: a batch size FAILED at run time (see its section)\n");
  return 1;
}

ModelRunOptions model_run_options(const ModelJob& o, BackendKind backend) {
  const bool gpu = backend == BackendKind::cuda;
  ModelRunOptions run;
  run.decoder = make_decoder_config(
      o.model.resolve(gpu ? kModelGpuDefaultModel : kModelCpuDefaultModel, /*whole_model=*/true), o.num_layers,
      parse_dtype(o.dtype));
  run.batch_sizes = o.batch_sizes.empty() ? (gpu ? kModelGpuDefaultBatches : kModelCpuDefaultBatches) : o.batch_sizes;
  run.input_len = o.input_len.value_or(gpu ? kModelGpuDefaultInput : kModelCpuDefaultInput);
  run.output_len = o.output_len.value_or(gpu ? kModelGpuDefaultOutput : kModelCpuDefaultOutput);
  run.warmup_runs = o.warmup_runs;
  run.benchmark_runs = o.benchmark_runs;
  run.moe_impl = o.moe_impl.empty() ? (gpu ? "auto" : "reference") : o.moe_impl;
  run.prefill_chunk = o.chunked_prefill_size;
  run.tp_size = o.tp_size;
  run.ep_size = o.ep_size;
  run.seed = o.seed;
  validate_model_options(run, backend);
  return run;
}

int run_model_job(const ModelJob& o, const std::string& command_line) {
  const BackendKind kind = parse_backend_kind(o.backend);
  const std::vector<const WriterEntry*> writers = checked_writers(o);
  // The defaults follow the GPU that auto would pick; --backend cuda without one fails below.
  const bool gpu = kind != BackendKind::cpu && cuda_available();
  ModelRunOptions run = model_run_options(o, gpu ? BackendKind::cuda : BackendKind::cpu);
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
  // The files are made from the records the store gets, so that they read as its exports do.
  std::vector<RunRecord> records = model_records(run, result, record_context);
  set_finished(records, utc_now_iso());
  if (!writers.empty()) {
    const auto files = writer_files(writers, output_base(o), records, {RecordLayout::model, markdown});
    write_files(files, "--output-file");
    for (const auto& [path, text] : files) std::fprintf(stderr, "wrote %s\n", path.c_str());
  }
  if (profiler)
    std::fprintf(stderr, "wrote a Chrome trace per batch size (Perfetto: ui.perfetto.dev) to %s\n",
                 o.profile.dir.c_str());
  if (store) {
    store->record(records);
    if (!o.quiet)
      std::fprintf(stderr, "recorded %zu results in %s\n", result.batches.size(), store->path().c_str());
  }
  return model_exit_code(result);
}

}  // namespace moebench
