// moebench layer: the MoE layer benchmark (seeds 003 and 004). Parsing and presentation only;
// the run itself is bench/layer_runner.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "analysis/ceilings.hpp"
#include "analysis/memory_fit.hpp"
#include "backend/backend.hpp"
#include "bench/layer_runner.hpp"
#include "cli/command.hpp"
#include "cli/layer_defaults.hpp"
#include "cli/model_options.hpp"
#include "cli/profile_options.hpp"
#include "cli/record_options.hpp"
#include "core/build_info.hpp"
#include "core/errors.hpp"
#include "core/test_fault.hpp"
#include "moe/moe_impl.hpp"
#include "bench/layer_writers.hpp"
#include "core/output_files.hpp"
#include "profile/profiler.hpp"
#include "bench/routing_export.hpp"
#include "results/environment.hpp"
#include "bench/layer_records.hpp"
#include "results/timestamps.hpp"

namespace moebench::cli {

namespace {

struct LayerCommandOptions {
  ModelOptions model;
  std::vector<int64_t> num_tokens;
  std::vector<std::string> scenarios = {"random", "balanced", "imbalanced"};
  std::vector<std::string> impls = {"all"};
  double imbalance_factor = 3.0;
  int ep_size = 1;
  int tp_size = 1;
  std::string dist_init_addr;
  int nnodes = 1;
  int node_rank = 0;
  int warmup_iters = 1;
  int benchmark_iters = 10;
  std::string dtype = "bf16";
  std::string backend = "auto";
  uint64_t seed = 0;
  bool no_verify = false;
  int64_t verify_tokens = 64;
  std::string output_format;
  std::string output_file;
  bool quiet = false;
  std::string export_routing_dir;
  bool routed_only = false;
  RecordOptions record;
  ProfileOptions profile;
};

std::string today() {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::localtime(&now));
  return buf;
}

int run_layer(const LayerCommandOptions& o, const std::string& command_line) {
  // Everything the user gave is checked before anything runs or is allocated.
  BackendKind kind = parse_backend_kind(o.backend);
  if (o.nnodes != 1 || o.node_rank != 0 || !o.dist_init_addr.empty())
    throw InputError("--nnodes/--node-rank/--dist-init-addr: multi-node runs need src/dist (not built yet); "
                     "run on one node");
  std::optional<OutputFormat> format;
  if (!o.output_format.empty() || !o.output_file.empty()) {
    format = parse_output_format(o.output_format.empty() ? "all" : o.output_format);
    check_output_directory(o.output_file.empty() ? "./benchmark_results" : o.output_file);
  }
  std::unique_ptr<Backend> backend = make_backend(kind);
  const bool gpu = backend->kind() == BackendKind::cuda;

  LayerRunOptions run;
  run.model = o.model.resolve(gpu ? kGpuDefaultModel : kCpuDefaultModel);
  if (o.routed_only && run.model.num_shared_experts > 0) {
    run.model.num_shared_experts = 0;
    run.model.shared_intermediate_size = 0;
    run.model.shared_expert_gate = false;
    run.model.name += " (routed experts only)";
  }
  run.num_tokens = o.num_tokens.empty() ? (gpu ? kGpuDefaultTokens : kCpuDefaultTokens) : o.num_tokens;
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
  std::vector<std::string> impl_names;  // unknown names fail here, before any work
  for (const ImplInfo* impl : select_impls(run.impls, backend->kind())) impl_names.push_back(impl->name);

  DeviceInfo device = backend->device_info();
  const int64_t needed = gpu ? layer_run_bytes(run)
                             : cpu_layer_resident_bytes(run.model, *std::max_element(run.num_tokens.begin(),
                                                                                     run.num_tokens.end()), run.dtype);
  refuse_if_not_fitting(run.model.name, needed, device.free_memory_bytes,
                        fmt::format(" on {} ({})", device.name, backend_kind_name(backend->kind())),
                        "use a smaller model or fewer --num-tokens");
  std::unique_ptr<ResultsStore> store = o.record.open();
  const RecordContext record_context{current_environment(device, backend->kind()), command_line,
                                     invocation_group_id("layer"), utc_now_iso()};

  if (!o.quiet)
    std::fprintf(stderr, "moebench layer: %s on %s (%s backend), %s, %d experts top-%d, H=%lld I=%lld\n",
                 run.model.name.c_str(), device.name.c_str(), backend_kind_name(backend->kind()),
                 dtype_name(run.dtype), run.model.num_experts, run.model.top_k,
                 (long long)run.model.hidden_size, (long long)run.model.moe_intermediate_size);
  o.profile.check();
  if (!o.export_routing_dir.empty())
    export_routing(o.export_routing_dir, run.model, run.scenarios, run.num_tokens, run.imbalance_factor, run.seed);
  Ceilings ceilings;

  const bool tty = isatty(fileno(stderr));
  ProgressFn progress = [&](int done, int total, const std::string& what) {
    if (o.quiet) return;
    if (tty)
      std::fprintf(stderr, "\r\033[K[%d/%d] %s", done, total, what.c_str());
    else if (what != "done")
      std::fprintf(stderr, "[%d/%d] %s\n", done, total, what.c_str());
    if (tty && what == "done") std::fputc('\n', stderr);
  };
  std::vector<LayerResult> results;
  std::unique_ptr<Profiler> profiler;
  try {
    apply_test_fault();
    ceilings = measure_ceilings(*backend);
    // After the ceilings, so that CUPTI's overhead does not lower them.
    profiler = o.profile.start(*backend, "layer", dtype_name(run.dtype), command_line);
    run.profiler = profiler.get();
    results = run_layer_benchmark(*backend, run, ceilings, progress);
  } catch (const RuntimeFailure& e) {
    // Every planned row failed with the run: recorded, so that a sweep or a later look at the
    // store sees why.
    if (store)
      store->record(layer_failure_records(run, impl_names, record_context, layer_run_details(run, ceilings), e.kind(),
                                          e.what()));
    throw;
  }

  LayerReportContext ctx;
  ctx.model = run.model.name;
  ctx.num_experts = run.model.num_experts;
  ctx.top_k = run.model.top_k;
  ctx.hidden_size = run.model.hidden_size;
  ctx.intermediate_size = run.model.moe_intermediate_size;
  ctx.ep_size = run.ep_size;
  ctx.tp_size = run.tp_size;
  ctx.dtype = dtype_name(run.dtype);
  ctx.backend = backend_kind_name(backend->kind());
  ctx.device = device.name;
  ctx.moebench_version = fmt::format("{} ({})", build_version(), build_git_revision());
  ctx.date = today();
  ctx.copy_gbps = ceilings.copy_gbps;
  ctx.gemm_tflops = ceilings.gemm_tflops;
  ctx.command_line = command_line;

  std::fputs(format_layer_table(results, ctx).c_str(), stdout);
  if (format) {
    std::vector<std::string> written =
        write_outputs(*format, o.output_file.empty() ? "./benchmark_results" : o.output_file,
                      layer_results_csv(results, ctx), layer_results_markdown(results, ctx),
                      layer_results_json(results, ctx));
    for (const std::string& path : written) std::fprintf(stderr, "wrote %s\n", path.c_str());
  }
  if (profiler)
    std::fprintf(stderr, "wrote %zu Chrome traces (Perfetto: ui.perfetto.dev) to %s\n", results.size(),
                 o.profile.dir.c_str());
  // Recorded after the table and files: a store that fails now (busy, full disk) must not lose
  // a finished run's output.
  if (store) {
    store->record(layer_records(results, record_context, layer_run_details(run, ceilings)));
    if (!o.quiet) std::fprintf(stderr, "recorded %zu results in %s\n", results.size(), store->path().c_str());
  }

  int failed = 0;
  for (const LayerResult& r : results) failed += (r.verified && !r.verify_passed) ? 1 : 0;
  if (failed) {
    std::fprintf(stderr, "moebench layer: %d result(s) FAILED verification (rel err >= %.0e or unwritten outputs)\n",
                 failed, 2e-2);
    return 1;
  }
  return 0;
}

}  // namespace

Command add_layer_command(CLI::App& app) {
  auto o = std::make_shared<LayerCommandOptions>();
  CLI::App* sub = app.add_subcommand("layer", "MoE layer benchmark: implementations x scenarios x token counts");
  o->model.add_to(*sub, std::string(kGpuDefaultModel) + " on a GPU, " + kCpuDefaultModel + " on the CPU");
  sub->add_option("--num-tokens", o->num_tokens, "token counts (default: 64 512 4096 on a GPU, 32 128 on the CPU)")
      ->delimiter(',');
  sub->add_option("--scenarios", o->scenarios, "random, balanced, imbalanced")->delimiter(',')->capture_default_str();
  sub->add_option("--imbalance-factor", o->imbalance_factor,
                  "imbalanced scenario: busiest expert load / average load")->capture_default_str();
  sub->add_option("--impl", o->impls, "implementations, comma-separated, or all")->delimiter(',')->capture_default_str();
  sub->add_option("--ep-size", o->ep_size, "expert-parallel size")->capture_default_str();
  sub->add_option("--tp-size", o->tp_size, "total devices (tensor parallel = tp_size / ep_size)")->capture_default_str();
  sub->add_option("--dist-init-addr", o->dist_init_addr, "multi-node rendezvous address HOST:PORT");
  sub->add_option("--nnodes", o->nnodes, "number of nodes")->capture_default_str();
  sub->add_option("--node-rank", o->node_rank, "this node's rank")->capture_default_str();
  sub->add_option("--warmup-iters", o->warmup_iters, "untimed iterations first")->capture_default_str();
  sub->add_option("--benchmark-iters", o->benchmark_iters, "timed iterations")->capture_default_str();
  sub->add_option("--dtype", o->dtype, "bf16 or fp16")->capture_default_str();
  sub->add_option("--backend", o->backend, "auto (GPU if present), cuda or cpu")->capture_default_str();
  sub->add_option("--seed", o->seed, "seed of weights, inputs and routing")->capture_default_str();
  sub->add_flag("--no-verify", o->no_verify, "skip the check against the fp64 reference");
  sub->add_option("--verify-tokens", o->verify_tokens, "tokens compared with the fp64 reference per run")
      ->capture_default_str();
  sub->add_option("--output-format", o->output_format, "csv, markdown, json, all (or both = csv + markdown)");
  sub->add_option("--output-file", o->output_file, "output base path (default ./benchmark_results)");
  sub->add_flag("--quiet", o->quiet, "no progress on stderr");
  sub->add_flag("--routed-only", o->routed_only,
                "leave the shared experts out: the routed experts alone, as the roofline floor counts them");
  sub->add_option("--export-routing", o->export_routing_dir,
                  "write each run's router logits and routing to DIR (raw arrays + manifest.json), for bench/peers.py");
  o->record.add_to(*sub);
  o->profile.add_to(*sub,
                    "write a Chrome trace (Perfetto) per scenario x implementation x token count, "
                    "with kernel spans on a GPU");
  return {sub, [o] { return run_layer(*o, invocation()); }};
}

}  // namespace moebench::cli
