// run_layer_job: `moebench layer` from a LayerJob to its exit code (layer_job.hpp). Every
// check of the input comes before the results store is opened and before anything runs.
#include "bench/layer_job.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>

#include <fmt/format.h>

#include "analysis/ceilings.hpp"
#include "analysis/memory_fit.hpp"
#include "analysis/memory_model.hpp"
#include "bench/layer_defaults.hpp"
#include "bench/layer_records.hpp"
#include "bench/layer_writers.hpp"
#include "bench/parallel_layer_job.hpp"
#include "bench/routing_export.hpp"
#include "bench/writers.hpp"
#include "core/build_info.hpp"
#include "core/errors.hpp"
#include "core/output_files.hpp"
#include "core/test_fault.hpp"
#include "moe/moe_impl.hpp"
#include "results/environment.hpp"
#include "results/timestamps.hpp"

namespace moebench {

namespace {

std::string today() {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::localtime(&now));
  return buf;
}

std::string output_base(const LayerJob& o) { return o.output_file.empty() ? "./benchmark_results" : o.output_file; }

// The formats of the result files, checked with their paths and directory; none when no file
// was asked for.
std::vector<const WriterEntry*> checked_writers(const LayerJob& o) {
  if (o.output_format.empty() && o.output_file.empty()) return {};
  const std::vector<const WriterEntry*> writers = parse_writers(o.output_format.empty() ? "all" : o.output_format);
  writer_paths(writers, output_base(o));
  check_output_directory(output_base(o));
  return writers;
}

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

void print_run_header(const LayerRunOptions& run, const Backend& backend, const DeviceInfo& device) {
  std::fprintf(stderr, "moebench layer: %s on %s (%s backend), %s, %s\n", run.model.name.c_str(),
               device.name.c_str(), backend_kind_name(backend.kind()), dtype_name(run.dtype),
               describe_moe_shape(run.model).c_str());
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

LayerReportContext report_context(const LayerRunOptions& run, const Backend& backend, const DeviceInfo& device,
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
  ctx.device = device.name;
  ctx.moebench_version = fmt::format("{} ({})", build_version(), build_git_revision());
  ctx.date = today();
  ctx.copy_gbps = ceilings.copy_gbps;
  ctx.gemm_tflops = ceilings.gemm_tflops;
  ctx.command_line = command_line;
  return ctx;
}

}  // namespace

int layer_exit_code(const std::vector<LayerResult>& results) {
  int failed = 0;
  for (const LayerResult& r : results) failed += (r.verified && !r.verify_passed) ? 1 : 0;
  if (!failed) return 0;
  std::fprintf(stderr, "moebench layer: %d result(s) FAILED verification (rel err >= %.0e or unwritten outputs)\n",
               failed, 2e-2);
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
  for (const std::string& s : o.scenarios) run.scenarios.push_back(parse_scenario(s));
  run.impls = o.impls;
  run.imbalance_factor = o.imbalance_factor;
  run.warmup_iters = o.warmup_iters;
  run.benchmark_iters = o.benchmark_iters;
  run.dtype = parse_dtype(o.dtype);
  run.seed = o.seed;
  run.verify = !o.no_verify;
  run.verify_tokens = o.verify_tokens;
  run.ep_size = o.ep_size;
  run.tp_size = o.tp_size;
  validate_layer_options(run);
  return run;
}

int run_layer_job(const LayerJob& o, const std::string& command_line) {
  // Everything the user gave is checked before anything runs or is allocated.
  if (is_parallel_layer_job(o)) return run_parallel_layer_job(o, command_line);
  const BackendKind kind = parse_backend_kind(o.backend);
  const std::vector<const WriterEntry*> writers = checked_writers(o);
  std::unique_ptr<Backend> backend = make_backend(kind);
  LayerRunOptions run = layer_run_options(o, backend->kind());
  const std::vector<std::string> impl_names = checked_impl_names(run, backend->kind());
  const DeviceInfo device = backend->device_info();
  refuse_if_layer_does_not_fit(run, *backend, device);

  std::unique_ptr<ResultsStore> store = o.record.open();
  const RecordContext record_context{current_environment(device, backend->kind()), command_line,
                                     invocation_group_id("layer"), utc_now_iso()};
  if (!o.quiet) print_run_header(run, *backend, device);
  o.profile.check();
  if (!o.export_routing_dir.empty())
    export_routing(o.export_routing_dir, run.model, run.scenarios, run.num_tokens, run.imbalance_factor, run.seed);

  Ceilings ceilings;
  std::vector<LayerResult> results;
  std::unique_ptr<Profiler> profiler;
  try {
    apply_test_fault();
    ceilings = measure_ceilings(*backend);
    // After the ceilings, so that CUPTI's overhead does not lower them.
    profiler = o.profile.start(*backend, "layer", dtype_name(run.dtype), command_line);
    run.profiler = profiler.get();
    results = run_layer_benchmark(*backend, run, ceilings, progress_printer(o.quiet));
  } catch (const RuntimeFailure& e) {
    // Every planned row failed with the run: recorded, so that a sweep or a later look at the
    // store sees why.
    if (store)
      store->record(layer_failure_records(run, impl_names, record_context, layer_run_details(run, ceilings), e.kind(),
                                          e.what()));
    throw;
  }

  std::fputs(format_layer_table(results, report_context(run, *backend, device, ceilings, command_line)).c_str(),
             stdout);
  // The files are made from the records the store gets, so that they read as its exports do.
  std::vector<RunRecord> records = layer_records(results, record_context, layer_run_details(run, ceilings));
  set_finished(records, utc_now_iso());
  if (!writers.empty()) {
    const auto files = writer_files(writers, output_base(o), records, {RecordLayout::layer, ""});
    write_files(files, "--output-file");
    for (const auto& [path, text] : files) std::fprintf(stderr, "wrote %s\n", path.c_str());
  }
  if (profiler)
    std::fprintf(stderr, "wrote %zu Chrome traces (Perfetto: ui.perfetto.dev) to %s\n", results.size(),
                 o.profile.dir.c_str());
  // Recorded after the table and files: a store that fails now (busy, full disk) must not lose
  // a finished run's output.
  if (store) {
    store->record(records);
    if (!o.quiet) std::fprintf(stderr, "recorded %zu results in %s\n", results.size(), store->path().c_str());
  }
  return layer_exit_code(results);
}

}  // namespace moebench
