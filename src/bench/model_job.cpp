// run_model_job: `moebench model` from a ModelJob to its exit code (model_job.hpp). Every
// check of the input, the fit of the batch sizes included, comes before the results store is
// opened and before anything runs.
#include "bench/model_job.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "bench/model_ranks.hpp"
#include "bench/model_records.hpp"
#include "bench/model_report.hpp"
#include "bench/parallel_model_job.hpp"
#include "bench/rank_job.hpp"
#include "bench/writers.hpp"
#include "core/errors.hpp"
#include "core/output_files.hpp"
#include "core/test_fault.hpp"
#include "model/decoder_config.hpp"
#include "results/environment.hpp"
#include "results/timestamps.hpp"

namespace moebench {

std::string model_output_base(const ModelJob& o) { return o.output_file.empty() ? "./model_results" : o.output_file; }

std::vector<const WriterEntry*> model_checked_writers(const ModelJob& o) {
  if (o.output_format.empty() && o.output_file.empty()) return {};
  const std::vector<const WriterEntry*> writers = parse_writers(o.output_format.empty() ? "all" : o.output_format);
  check_writer_paths(writers, model_output_base(o), "--output-file");
  return writers;
}

int model_exit_code(const std::vector<ModelResult>& results) {
  int failed = 0, refused = 0;
  for (const ModelResult& r : results)
    for (const BatchResult& b : r.batches) {
      failed += b.status == BatchResult::Status::failed;
      refused += b.status == BatchResult::Status::refused;
    }
  if (failed) std::fprintf(stderr, "moebench model: %d batch size(s) FAILED at run time (see their sections)\n", failed);
  if (refused)
    std::fprintf(stderr, "moebench model: %d batch size(s) did not fit and did not run (see their sections)\n",
                 refused);
  return failed || refused ? 1 : 0;
}

std::vector<ModelRunOptions> model_run_options(const ModelJob& o, BackendKind backend) {
  const bool gpu = backend == BackendKind::cuda;
  if (!(o.dist_timeout_s > 0))
    throw InputError(fmt::format("--dist-timeout ({:g}) must be positive: the seconds a rank waits for its peers",
                                 o.dist_timeout_s));
  ModelRunOptions run;
  run.decoder = make_decoder_config(
      o.model.resolve(gpu ? kModelGpuDefaultModel : kModelCpuDefaultModel, /*whole_model=*/true), o.num_layers,
      parse_dtype(o.dtype));
  run.batch_sizes = o.batch_sizes.empty() ? (gpu ? kModelGpuDefaultBatches : kModelCpuDefaultBatches) : o.batch_sizes;
  run.warmup_runs = o.warmup_runs;
  run.benchmark_runs = o.benchmark_runs;
  run.moe_impl = !o.moe_impl.empty() ? o.moe_impl : o.tp_size > 1 ? "tp" : gpu ? "auto" : "reference";
  run.prefill_chunk = o.chunked_prefill_size;
  run.tp_size = o.tp_size;
  run.ep_size = o.ep_size;
  run.seed = o.seed;
  const std::vector<int64_t> inputs =
      o.input_lens.empty() ? std::vector<int64_t>{gpu ? kModelGpuDefaultInput : kModelCpuDefaultInput} : o.input_lens;
  const std::vector<int64_t> outputs = o.output_lens.empty()
                                           ? std::vector<int64_t>{gpu ? kModelGpuDefaultOutput : kModelCpuDefaultOutput}
                                           : o.output_lens;
  std::vector<ModelRunOptions> runs;
  for (int64_t input : inputs)
    for (int64_t output : outputs) {
      run.input_len = input;
      run.output_len = output;
      validate_model_options(run, backend);
      runs.push_back(run);
    }
  return runs;
}

int run_model_job(const ModelJob& o, const std::string& command_line) {
  if (is_parallel_model_job(o)) return run_parallel_model_job(o, command_line);
  const BackendKind kind = parse_backend_kind(o.backend);
  const std::vector<const WriterEntry*> writers = model_checked_writers(o);
  // The defaults follow the GPU that auto would pick; --backend cuda without one fails below.
  const bool gpu = kind != BackendKind::cpu && cuda_available();
  std::vector<ModelRunOptions> runs = model_run_options(o, gpu ? BackendKind::cuda : BackendKind::cpu);
  o.profile.check();
  check_test_fault();

  std::unique_ptr<Backend> backend = make_backend(kind);
  const DeviceInfo device = backend->device_info();
  ModelPlacement placement;
  placement.available_bytes = device.free_memory_bytes;
  placement.where = fmt::format(" on {} ({})", device.name, backend_kind_name(backend->kind()));
  return run_model_benchmarks(o, *backend, std::move(runs), writers, command_line, placement);
}

int run_model_benchmarks(const ModelJob& o, Backend& backend, std::vector<ModelRunOptions> runs,
                         const std::vector<const WriterEntry*>& writers, const std::string& command_line,
                         const ModelPlacement& placement) {
  Communicator* comm = placement.comm;
  const bool root = !comm || comm->rank() == 0;
  const bool gpu = backend.kind() == BackendKind::cuda;
  // Each length pair's batch sizes are planned before the store is opened or created: a pair of
  // which no batch size fits is refused (InputError) when it is the only one, and is reported,
  // recorded and counted as not run when others run. Over ranks every rank plans alike, from the
  // same available bytes.
  std::vector<std::vector<BatchResult>> plans(runs.size());
  std::vector<std::string> unfit(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) try {
      plans[i] = preflight(runs[i], gpu, placement.available_bytes, placement.where);
    } catch (const InputError& e) {
      if (runs.size() == 1) throw;
      unfit[i] = e.what();
    }
  if (std::all_of(unfit.begin(), unfit.end(), [](const std::string& u) { return !u.empty(); }))
    throw InputError(unfit.front());
  std::unique_ptr<ResultsStore> store = root ? o.record.open() : nullptr;
  const RecordContext record_context{current_environment(backend.device_info(), backend.kind()), command_line,
                                     invocation_group_id("model", o.record.run_name), utc_now_iso()};
  ModelProgressFn progress = [&](const std::string& what) {
    if (root && !o.quiet) std::fprintf(stderr, "moebench model: %s\n", what.c_str());
  };
  if (comm)
    progress(fmt::format("{} on {} ranks ({}, {} backend): tp_size {}, ep_size {}, MoE {}", runs.front().decoder.model.name,
                         comm->size(), comm->library(), backend_kind_name(backend.kind()), runs.front().tp_size,
                         runs.front().ep_size, runs.front().moe_impl));
  std::unique_ptr<Profiler> profiler = o.profile.start(backend, "model", o.dtype, command_line);
  if (profiler && root) std::fprintf(stderr, "moebench model: the timed runs carry the tracing's overhead\n");

  std::vector<ModelResult> results;
  std::vector<RunRecord> records;
  std::string markdown;
  int not_run = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    ModelRunOptions& run = runs[i];
    if (!unfit[i].empty()) {
      if (!root) continue;
      std::fprintf(stderr, "moebench model: input %lld, output %lld: %s\n", (long long)run.input_len,
                   (long long)run.output_len, unfit[i].c_str());
      std::vector<RunRecord> refused = model_failure_records(run, record_context, FailureKind::OOM, unfit[i]);
      not_run += int(refused.size());
      records.insert(records.end(), refused.begin(), refused.end());
      continue;
    }
    run.profiler = profiler.get();
    ModelResult result;
    try {
      if (comm)
        apply_rank_test_fault(comm->rank());
      else
        apply_test_fault();
      result = run_model_benchmark(backend, run, std::move(plans[i]), progress, comm);
      if (comm) {
        // Every rank's figures to rank 0, which alone reports and records.
        const std::vector<std::string> blobs = comm->gather_to_root(model_rank_blob(result, comm->rank()));
        comm->barrier();
        if (!root) continue;
        merge_model_ranks(result, blobs);
        result.communicator = comm->library();
      }
    } catch (const RuntimeFailure& e) {
      // Over ranks the run's job records the failure (bench/parallel_model_job.hpp).
      if (comm) throw;
      // Every planned batch size of this run failed with it: recorded with what finished
      // before, so that a sweep or a later look at the store sees why.
      std::vector<RunRecord> failed = model_failure_records(run, record_context, e.kind(), e.what());
      records.insert(records.end(), failed.begin(), failed.end());
      if (store) store->record(records);
      throw;
    }
    result.command_line = command_line;
    const std::string report = model_report_markdown(result);
    std::fputs(report.c_str(), stdout);
    markdown += report;
    std::vector<RunRecord> run_records = model_records(run, result, record_context);
    records.insert(records.end(), run_records.begin(), run_records.end());
    results.push_back(std::move(result));
  }
  if (!root) return 0;
  set_finished(records, utc_now_iso());
  // The files are made from the records the store gets, so that they read as its exports do.
  // Both are attempted whatever happens to the other: a finished run is never lost to a full
  // disk or a busy store.
  std::optional<InputError> file_error;
  if (!writers.empty()) try {
      const auto files = writer_files(writers, model_output_base(o), records, {RecordLayout::model, markdown});
      write_files(files, "--output-file");
      for (const auto& [path, text] : files) std::fprintf(stderr, "wrote %s\n", path.c_str());
    } catch (const InputError& e) {
      file_error = e;
    }
  if (profiler)
    std::fprintf(stderr, "wrote a Chrome trace per batch size (Perfetto: ui.perfetto.dev) to %s%s\n",
                 o.profile.dir.c_str(), comm ? " (and each rank's to its rank<N> folder beside it)" : "");
  if (store) {
    store->record(records);
    if (!o.quiet) std::fprintf(stderr, "recorded %zu results in %s\n", records.size(), store->path().c_str());
  }
  if (file_error) {
    // Past the point of bad input: the run finished and is kept (printed, and recorded unless
    // --no-record), so this is a failed output step, exit 1.
    std::fprintf(stderr, "moebench model: %s (the results above are %s)\n", file_error->what(),
                 store ? "recorded in the store" : "printed only: --no-record");
    return 1;
  }
  const int code = model_exit_code(results);
  if (not_run)
    std::fprintf(stderr, "moebench model: %d batch size(s) of lengths that did not fit did not run\n", not_run);
  return not_run ? 1 : code;
}

}  // namespace moebench
