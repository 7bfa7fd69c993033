// run_layer_job: `moebench layer` from a LayerJob to its exit code (layer_job.hpp). Every
// check of the input comes before the results store is opened and before anything runs.
#include "bench/layer_job.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "analysis/ceilings.hpp"
#include "analysis/memory_fit.hpp"
#include "analysis/memory_model.hpp"
#include "bench/layer_defaults.hpp"
#include "bench/layer_records.hpp"
#include "bench/layer_writers.hpp"
#include "bench/parallel_layer_job.hpp"
#include "bench/routing_export.hpp"
#include "bench/routing_replay.hpp"
#include "bench/writers.hpp"
#include "core/build_info.hpp"
#include "core/errors.hpp"
#include "core/output_files.hpp"
#include "core/path_checks.hpp"
#include "core/test_fault.hpp"
#include "moe/layer_weights.hpp"
#include "moe/moe_impl.hpp"
#include "results/environment.hpp"
#include "results/timestamps.hpp"
#include "routing/scenarios.hpp"

namespace moebench {

namespace {

// The implementations' names: an unknown one fails here, before any work.
std::vector<std::string> checked_impl_names(const LayerRunOptions& run, BackendKind backend) {
  std::vector<std::string> names;
  for (const ImplInfo* impl : select_impls(run.impls, backend)) names.push_back(impl->name);
  return names;
}

// InputError when the layer's weights and rotating buffers exceed the device's free memory.
void refuse_if_layer_does_not_fit(const LayerRunOptions& run, const Backend& backend, const DeviceInfo& device) {
  const bool gpu = backend.kind() == BackendKind::cuda;
  const int64_t needed =
      gpu ? layer_run_bytes(run)
          : cpu_layer_resident_bytes(run.model, *std::max_element(run.num_tokens.begin(), run.num_tokens.end()),
                                     run.dtype);
  refuse_if_not_fitting(run.model.name, needed, device.free_memory_bytes,
                        fmt::format(" on {} ({})", device.name, backend_kind_name(backend.kind())),
                        "use a smaller model or fewer --num-tokens");
}

// `factor_adapted`: the default imbalance factor was more than the shape allows and was lowered.
void print_run_header(const LayerRunOptions& run, const Backend& backend, const DeviceInfo& device,
                      bool factor_adapted) {
  const std::string dtype =
      run.dtype == DType::fp8
          ? fmt::format("fp8 e4m3 ({} scaling; bf16 in and out, fp32 sums)", fp8_scaling_name(run.fp8_scaling))
          : dtype_name(run.dtype);
  std::fprintf(stderr, "moebench layer: %s on %s (%s backend), %s, %s\n", run.model.name.c_str(),
               device.name.c_str(), backend_kind_name(backend.kind()), dtype.c_str(),
               describe_moe_shape(run.model).c_str());
  if (factor_adapted)
    std::fprintf(stderr, "moebench layer: imbalance factor %g, the most %d experts top-%d allow (the default is %g)\n",
                 run.scenario_params.imbalance_factor, run.model.num_experts, run.model.top_k, kDefaultImbalanceFactor);
}

// Progress on stderr: one line rewritten in place on a terminal, a line per step otherwise.
ProgressFn progress_printer(bool quiet) {
  const bool tty = isatty(fileno(stderr));
  return [quiet, tty](int done, int total, const std::string& what) {
    if (quiet) return;
    if (tty)
      std::fprintf(stderr, "\r\033[K[%d/%d] %s", done, total, what.c_str());
    else if (what != "done")
      std::fprintf(stderr, "[%d/%d] %s\n", done, total, what.c_str());
    if (tty && what == "done") std::fputc('\n', stderr);
  };
}

// One line per implementation that did not run some of its cases, with the first reason.
void report_failed_impls(const std::vector<LayerCaseFailure>& failures) {
  for (size_t i = 0; i < failures.size();) {
    size_t j = i;
    while (j < failures.size() && failures[j].impl == failures[i].impl) ++j;
    std::fprintf(stderr, "moebench layer: %s did not run %zu case(s): %s: %s (recorded as failures)\n",
                 failures[i].impl.c_str(), j - i, failure_kind_name(failures[i].kind), failures[i].message.c_str());
    i = j;
  }
}

}  // namespace

std::string layer_output_base(const LayerJob& o) {
  return o.output_file.empty() ? "./benchmark_results" : o.output_file;
}

std::vector<const WriterEntry*> layer_checked_writers(const LayerJob& o) {
  if (o.output_format.empty() && o.output_file.empty()) return {};
  const std::vector<const WriterEntry*> writers = parse_writers(o.output_format.empty() ? "all" : o.output_format);
  check_writer_paths(writers, layer_output_base(o), "--output-file");
  return writers;
}

LayerReportContext layer_report_context(const LayerRunOptions& run, const Backend& backend, const std::string& device,
                                        const Ceilings& ceilings, const std::string& command_line) {
  LayerReportContext ctx;
  ctx.model = run.model.name;
  ctx.num_experts = run.model.num_experts;
  ctx.top_k = run.model.top_k;
  ctx.hidden_size = run.model.hidden_size;
  ctx.intermediate_size = run.model.moe_intermediate_size;
  ctx.ep_size = run.ep_size;
  ctx.tp_size = run.tp_size;
  ctx.dtype = dtype_name(run.dtype);
  ctx.backend = backend_kind_name(backend.kind());
  ctx.device = device;
  ctx.moebench_version = fmt::format("{} ({})", build_version(), build_git_revision());
  ctx.date = utc_now_iso().substr(0, 10);  // the UTC date, as the records' timestamps
  ctx.copy_gbps = ceilings.copy_gbps;
  ctx.gemm_tflops = ceilings.gemm_tflops;
  ctx.command_line = command_line;
  return ctx;
}

int layer_exit_code(const std::vector<LayerResult>& results) {
  int failed = 0;
  for (const LayerResult& r : results) failed += (r.verified && !r.verify_passed) ? 1 : 0;
  if (!failed) return 0;
  std::fprintf(stderr, "moebench layer: %d result(s) FAILED verification (rel err over the dtype's limit, 2e-2 "
               "bf16/fp16, 1e-2 fp8, or unwritten outputs)\n", failed);
  return 1;
}

LayerRunOptions layer_run_options(const LayerJob& o, BackendKind backend) {
  const bool gpu = backend == BackendKind::cuda;
  LayerRunOptions run;
  run.model = o.model.resolve(gpu ? kLayerGpuDefaultModel : kLayerCpuDefaultModel);
  if (o.routed_only && run.model.num_shared_experts > 0) {
    run.model.num_shared_experts = 0;
    run.model.shared_intermediate_size = 0;
    run.model.shared_expert_gate = false;
    run.model.name += " (routed experts only)";
  }
  run.num_tokens = o.num_tokens.empty() ? (gpu ? kLayerGpuDefaultTokens : kLayerCpuDefaultTokens) : o.num_tokens;
  const std::vector<std::string> scenarios =
      o.scenarios.empty() ? std::vector<std::string>{"random", "balanced", "imbalanced"} : o.scenarios;
  for (const std::string& s : scenarios) run.scenarios.push_back(parse_scenario(s));
  run.impls = o.impls;
  // A default that the shape cannot take adapts to it; only a value given is refused.
  run.scenario_params.imbalance_factor = o.imbalance_factor.value_or(std::min(kDefaultImbalanceFactor, max_imbalance_factor(run.model)));
  run.scenario_params.zipf_exponent = o.zipf_exponent;
  run.scenario_params.hot_experts = o.hot_experts;
  run.scenario_params.hot_share = o.hot_share;
  run.warmup_iters = o.warmup_iters;
  run.benchmark_iters = o.benchmark_iters;
  run.dtype = parse_dtype(o.dtype);
  if (!o.fp8_scaling.empty()) {
    run.fp8_scaling = parse_fp8_scaling(o.fp8_scaling);
    if (run.dtype != DType::fp8)
      throw InputError(fmt::format("--fp8-scaling {}: applies to --dtype fp8 only (got --dtype {})", o.fp8_scaling,
                                   dtype_name(run.dtype)));
  }
  if (run.dtype == DType::fp8 && gpu)
    throw InputError("--dtype fp8: no CUDA fp8 implementation in this build; run fp8 with --backend cpu");
  if (run.dtype == DType::fp8)
    for (const std::string& name : o.impls)
      if (name != "all" && name != "reference")
        throw InputError(fmt::format("--impl {}: fp8 runs on the reference implementation in this build; use "
                                     "--impl reference", name));
  if (run.dtype == DType::fp8 && o.tp_size > 1)
    throw InputError(fmt::format("--dtype fp8 --tp-size {}: fp8 runs on one rank in this build; use --tp-size 1",
                                 o.tp_size));
  run.seed = o.seed;
  run.verify = !o.no_verify;
  run.verify_tokens = o.verify_tokens;
  run.ep_size = o.ep_size;
  run.tp_size = o.tp_size;
  if (!o.routing_file.empty()) {
    // The file's routing replaces the scenarios, and its token counts the defaults.
    if (!o.scenarios.empty())
      throw InputError("--scenarios and --routing-file: choose one (the file's routing replaces the scenarios)");
    if (!o.export_routing_dir.empty())
      throw InputError("--export-routing and --routing-file: choose one (the routing file is already on disk)");
    run.scenarios.clear();
    run.replays = replay_cases(o.routing_file, run.model, o.num_tokens, score_bias_values(run.model, run.seed));
    run.num_tokens = replay_token_counts(run.replays);
  }
  validate_layer_options(run);
  if (!(o.dist_timeout_s > 0))
    throw InputError(fmt::format("--dist-timeout ({:g}) must be positive: the seconds a rank waits for its peers",
                                 o.dist_timeout_s));
  return run;
}

int run_layer_job(const LayerJob& o, const std::string& command_line) {
  // Everything the user gave is checked before anything runs or is allocated.
  if (is_parallel_layer_job(o)) return run_parallel_layer_job(o, command_line);
  const BackendKind kind = parse_backend_kind(o.backend);
  const std::vector<const WriterEntry*> writers = layer_checked_writers(o);
  std::unique_ptr<Backend> backend = make_backend(kind);
  LayerRunOptions run = layer_run_options(o, backend->kind());
  const std::vector<std::string> impl_names = checked_impl_names(run, backend->kind());
  const DeviceInfo device = backend->device_info();
  refuse_if_layer_does_not_fit(run, *backend, device);
  o.profile.check();
  if (!o.export_routing_dir.empty()) check_writable_directory(o.export_routing_dir, "--export-routing");
  check_test_fault();

  // Created (or opened for writing) only now that every input check has passed.
  std::unique_ptr<ResultsStore> store = o.record.open();
  const RecordContext record_context{current_environment(device, backend->kind()), command_line,
                                     invocation_group_id("layer", o.record.run_name), utc_now_iso()};
  const bool factor_adapted =
      !o.imbalance_factor && run.scenario_params.imbalance_factor < kDefaultImbalanceFactor &&
      std::find(run.scenarios.begin(), run.scenarios.end(), Scenario::imbalanced) != run.scenarios.end();
  if (!o.quiet) print_run_header(run, *backend, device, factor_adapted);
  if (!o.export_routing_dir.empty())
    export_routing(o.export_routing_dir, run.model, run.scenarios, run.num_tokens, run.scenario_params, run.seed);

  Ceilings ceilings;
  LayerBenchmark bench;
  std::unique_ptr<Profiler> profiler;
  try {
    apply_test_fault();
    ceilings = measure_ceilings(*backend);
    // After the ceilings, so that CUPTI's overhead does not lower them.
    profiler = o.profile.start(*backend, "layer", dtype_name(run.dtype), command_line);
    run.profiler = profiler.get();
    bench = run_layer_benchmark(*backend, run, ceilings, progress_printer(o.quiet));
  } catch (const RuntimeFailure& e) {
    // Every planned row failed with the run: recorded, so that a sweep or a later look at the
    // store sees why.
    if (store)
      store->record(layer_failure_records(run, impl_names, record_context, layer_run_details(run, ceilings), e.kind(),
                                          e.what()));
    throw;
  }
  const std::vector<LayerResult>& results = bench.results;

  std::fputs(
      format_layer_table(results, layer_report_context(run, *backend, device.name, ceilings, command_line)).c_str(),
      stdout);
  report_failed_impls(bench.failures);
  // The files are made from the records the store gets, so that they read as its exports do;
  // a case an implementation did not run is a failure record beside them.
  const nlohmann::ordered_json details = layer_run_details(run, ceilings);
  std::vector<RunRecord> records = layer_records(results, record_context, details);
  const std::vector<RunRecord> failed = layer_failure_records(run, bench.failures, record_context, details);
  records.insert(records.end(), failed.begin(), failed.end());
  set_finished(records, utc_now_iso());
  // Files and store are both attempted whatever happens to the other: a finished run is never
  // lost to a full disk or a busy store.
  std::optional<std::string> file_error;
  if (!writers.empty()) try {
      const auto files = writer_files(writers, layer_output_base(o), records, {RecordLayout::layer, ""});
      write_files(files, "--output-file");
      for (const auto& [path, text] : files) std::fprintf(stderr, "wrote %s\n", path.c_str());
    } catch (const InputError& e) {
      file_error = e.what();
    }
  if (profiler)
    std::fprintf(stderr, "wrote %zu Chrome traces (Perfetto: ui.perfetto.dev) to %s\n", results.size(),
                 o.profile.dir.c_str());
  if (store) {
    store->record(records);
    if (!o.quiet) std::fprintf(stderr, "recorded %zu results in %s\n", records.size(), store->path().c_str());
  }
  if (file_error) {
    // Past the point of bad input: the run finished and is kept (printed, and recorded unless
    // --no-record), so this is a failed output step, exit 1.
    std::fprintf(stderr, "moebench layer: %s (the results above are %s)\n", file_error->c_str(),
                 store ? "recorded in the store" : "printed only: --no-record");
    return 1;
  }
  const int code = layer_exit_code(results);
  return bench.failures.empty() ? code : 1;
}

}  // namespace moebench
