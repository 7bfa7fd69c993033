// run_parallel_layer_job: `moebench layer` over several ranks (parallel_layer_job.hpp).
#include "bench/parallel_layer_job.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "analysis/ceilings.hpp"
#include "analysis/memory_fit.hpp"
#include "analysis/memory_model.hpp"
#include "bench/layer_records.hpp"
#include "bench/layer_writers.hpp"
#include "bench/parallel_layer_runner.hpp"
#include "bench/rank_job.hpp"
#include "bench/routing_export.hpp"
#include "bench/writers.hpp"
#include "core/errors.hpp"
#include "core/output_files.hpp"
#include "core/size_math.hpp"
#include "dist/bus_bandwidth.hpp"
#include "dist/communicator.hpp"
#include "dist/rank_env.hpp"
#include "moe/moe_impl.hpp"
#include "results/environment.hpp"
#include "results/timestamps.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

// What every rank must run alike: a rank whose fingerprint differs is refused, the field named.
nlohmann::json fingerprint(const LayerRunOptions& run, BackendKind kind, const std::vector<std::string>& impls) {
  const ModelConfig& m = run.model;
  std::vector<std::string> scenarios;
  for (Scenario s : run.scenarios) scenarios.push_back(scenario_name(s));
  return {{"model", m.name},
          {"num_experts", m.num_experts},
          {"top_k", m.top_k},
          {"hidden_size", m.hidden_size},
          {"intermediate_size", m.moe_intermediate_size},
          {"num_shared_experts", m.num_shared_experts},
          {"shared_intermediate_size", m.shared_intermediate_size},
          {"activation", activation_name(m.activation)},
          {"scoring", scoring_name(m.scoring)},
          {"num_tokens", run.num_tokens},
          {"scenarios", scenarios},
          {"impl", impls},
          {"imbalance_factor", run.scenario_params.imbalance_factor},
          {"zipf_exponent", run.scenario_params.zipf_exponent},
          {"hot_experts", hot_expert_count(run.model, run.scenario_params)},
          {"hot_share", run.scenario_params.hot_share},
          {"warmup_iters", run.warmup_iters},
          {"benchmark_iters", run.benchmark_iters},
          {"dtype", dtype_name(run.dtype)},
          {"backend", backend_kind_name(kind)},
          {"seed", run.seed},
          {"verify", run.verify},
          {"verify_tokens", run.verify_tokens},
          {"tp_size", run.tp_size},
          {"ep_size", run.ep_size}};
}

// Rank 0's progress on stderr, a line per step.
ProgressFn progress_printer(bool quiet) {
  return [quiet](int done, int total, const std::string& what) {
    if (!quiet && what != "done") std::fprintf(stderr, "[%d/%d] %s\n", done, total, what.c_str());
  };
}

void record_failure(const LayerJob& job, const LayerRunOptions& run, const std::vector<std::string>& impls,
                    const Backend& backend, const std::string& command_line, FailureKind kind,
                    const std::string& message) {
  std::unique_ptr<ResultsStore> store = job.record.open();
  if (!store) return;
  const RecordContext context{current_environment(backend.device_info(), backend.kind()), command_line,
                              invocation_group_id("layer", job.record.run_name), utc_now_iso()};
  json details = layer_run_details(run, Ceilings{});
  details["world_size"] = run.tp_size;
  store->record(layer_failure_records(run, impls, context, details, kind, message));
}

// The node's launcher: starts its ranks, waits, and (node 0) records a failed run.
int launch_ranks(const LayerJob& job, const LayerRunOptions& run, const RankEnv& node, BackendKind kind,
                 const std::vector<std::string>& impls, const std::string& command_line) {
  return launch_node_ranks(node, "layer", [&](FailureKind failure, const std::string& message) {
    record_failure(job, run, impls, *make_backend(kind == BackendKind::cuda ? BackendKind::cuda : BackendKind::cpu),
                   command_line, failure, message);
  });
}

// InputError when the node's CPU ranks together exceed its free memory: each holds what a
// one-device run of the layer holds (every rank checks its tokens with the full weights).
void refuse_if_node_does_not_fit(const LayerRunOptions& run, const RankEnv& env) {
  const DeviceInfo cpu = make_backend(BackendKind::cpu)->device_info();
  const int64_t tokens = *std::max_element(run.num_tokens.begin(), run.num_tokens.end());
  refuse_if_not_fitting(run.model.name, size_mul(cpu_layer_resident_bytes(run.model, tokens, run.dtype),
                                                 int64_t(env.local_world_size)),
                        cpu.free_memory_bytes, fmt::format(" on {} ({} CPU ranks)", cpu.name, env.local_world_size),
                        "use a smaller model, fewer --num-tokens or a smaller --tp-size");
}

// InputError when the layer does not fit this rank's GPU: every rank holds the layer's weights.
void refuse_if_gpu_does_not_fit(const LayerRunOptions& run, const Backend& backend) {
  const DeviceInfo device = backend.device_info();
  refuse_if_not_fitting(run.model.name, layer_run_bytes(run), device.free_memory_bytes,
                        fmt::format(" on {} (cuda)", device.name), "use a smaller model or fewer --num-tokens");
}

// Rank 0: the table, the files and the records of a finished run.
int report_run(const LayerJob& job, const LayerRunOptions& run, const Backend& backend, const Ceilings& ceilings,
               const ExchangeCeilings& exchange, const std::vector<ParallelLayerRow>& rows,
               const RecordContext& context, ResultsStore* store, const std::vector<const WriterEntry*>& writers,
               const std::string& command_line) {
  std::vector<LayerResult> results;
  for (const ParallelLayerRow& row : rows) results.push_back(row.result);
  const std::string device =
      fmt::format("{} x {} ranks ({})", backend.device_info().name, run.tp_size, exchange.library);
  LayerReportContext report = layer_report_context(run, backend, device, ceilings, command_line);
  report.exchange_ceilings = exchange_ceilings_text(exchange);
  std::fputs(format_layer_table(results, report).c_str(), stdout);
  json details = layer_run_details(run, ceilings);
  details["world_size"] = run.tp_size;
  details["moe_tp_size"] = run.tp_size / run.ep_size;
  details["communicator"] = exchange.library;
  details["exchange_ceilings"] = exchange_ceilings_json(exchange);
  std::vector<RunRecord> records = layer_records(results, context, details);
  for (size_t i = 0; i < records.size(); ++i) records[i].details["ranks"] = rows[i].ranks;
  set_finished(records, utc_now_iso());
  if (!writers.empty()) {
    const auto files = writer_files(writers, layer_output_base(job), records, {RecordLayout::layer, ""});
    write_files(files, "--output-file");
    for (const auto& [path, text] : files) std::fprintf(stderr, "wrote %s\n", path.c_str());
  }
  if (store) {
    store->record(records);
    if (!job.quiet) std::fprintf(stderr, "recorded %zu results in %s\n", records.size(), store->path().c_str());
  }
  return layer_exit_code(results);
}

// One rank, start to end.
int run_rank_body(const LayerJob& job, const LayerRunOptions& run, const RankEnv& env, BackendKind kind,
             const std::vector<std::string>& impls, const std::vector<const WriterEntry*>& writers,
             const std::string& command_line) {
  const bool root = env.rank == 0;
  select_rank_device(kind, env);
  std::unique_ptr<Backend> backend = make_backend(kind);
  if (kind == BackendKind::cuda) refuse_if_gpu_does_not_fit(run, *backend);
  std::unique_ptr<ResultsStore> store;
  const DeviceInfo device = backend->device_info();
  const RecordContext context{current_environment(device, backend->kind()), command_line,
                              invocation_group_id("layer", job.record.run_name), utc_now_iso()};
  // Each rank's traces in a folder of its own: DIR/rank<N>.
  ProfileOptions profile = job.profile;
  profile.dir = (std::filesystem::path(job.profile.dir) / fmt::format("rank{}", env.rank)).string();
  profile.check();
  std::unique_ptr<Profiler> profiler = profile.start(*backend, "layer", dtype_name(run.dtype), command_line);
  LayerRunOptions rank_run = run;
  rank_run.profiler = profiler.get();
  Ceilings ceilings;
  try {
    std::unique_ptr<Communicator> comm = join_ranks(*backend, env, fingerprint(run, kind, impls), job.dist_timeout_s);
    // Opened once every rank is known to run this configuration: a refused run leaves no store.
    if (root) store = job.record.open();
    if (root && !job.quiet)
      std::fprintf(stderr, "moebench layer: %s on %d ranks (%s, %s backend): tp_size %d, ep_size %d, %s, %s\n",
                   run.model.name.c_str(), comm->size(), comm->library(), backend_kind_name(kind), run.tp_size,
                   run.ep_size, dtype_name(run.dtype), describe_moe_shape(run.model).c_str());
    apply_rank_test_fault(env.rank);
    // Every rank: the exchanges' ceilings on this run's own communicator, before the layer's buffers.
    const ExchangeCeilings exchange = measure_exchange_ceilings(*comm, *backend);
    if (root) ceilings = measure_ceilings(*backend);
    if (root && !job.export_routing_dir.empty())
      export_routing(job.export_routing_dir, run.model, run.scenarios, run.num_tokens, run.scenario_params, run.seed);
    const std::string blob =
        run_rank_layer_benchmark(*backend, *comm, rank_run, progress_printer(job.quiet || !root));
    const std::vector<std::string> blobs = comm->gather_to_root(blob);
    comm->barrier();
    if (!root) return 0;
    const std::vector<ParallelLayerRow> rows = merge_rank_results(blobs, run, *backend, ceilings, exchange);
    if (profiler)
      std::fprintf(stderr, "wrote %zu Chrome traces per rank (Perfetto: ui.perfetto.dev) to %s/rank<N>\n", rows.size(),
                   job.profile.dir.c_str());
    return report_run(job, run, *backend, ceilings, exchange, rows, context, store.get(), writers, command_line);
  } catch (const RuntimeFailure& e) {
    if (leave_rank_failure(env.rank, e)) {
    } else if (root && (store || (store = job.record.open()))) {
      json details = layer_run_details(run, ceilings);
      details["world_size"] = run.tp_size;
      store->record(layer_failure_records(run, impls, context, details, e.kind(),
                                          fmt::format("rank {}: {}", env.rank, e.what())));
    }
    throw;
  }
}

// run_rank_body; a rank started by moebench's launcher leaves its bad input to the launcher,
// which says it once for the node.
int run_rank(const LayerJob& job, const LayerRunOptions& run, const RankEnv& env, BackendKind kind,
             const std::vector<std::string>& impls, const std::vector<const WriterEntry*>& writers,
             const std::string& command_line) {
  return leave_rank_input_error(env.rank, [&] { return run_rank_body(job, run, env, kind, impls, writers, command_line); });
}

}  // namespace

bool is_parallel_layer_job(const LayerJob& job) {
  return job.tp_size > 1 || job.ep_size > 1 || job.nnodes != 1 || job.node_rank != 0 || !job.dist_init_addr.empty();
}

int run_parallel_layer_job(const LayerJob& job, const std::string& command_line) {
  // Everything the user gave is checked before any rank starts.
  const BackendKind kind = resolved_backend_kind(job.backend);
  if (kind == BackendKind::cuda && cuda_device_count() == 0) make_backend(kind);  // says why there is none
  const LayerRunOptions run = layer_run_options(job, kind);
  std::vector<std::string> impls;
  for (const ImplInfo* info : select_impls(run.impls, kind, run.tp_size)) impls.push_back(info->name);
  const std::vector<const WriterEntry*> writers = layer_checked_writers(job);
  job.profile.check();
  const RankEnv env = resolve_run_ranks(kind, run.tp_size, job.nnodes, job.node_rank, job.dist_init_addr);
  if (kind == BackendKind::cpu) refuse_if_node_does_not_fit(run, env);
  if (env.launches_local_ranks()) return launch_ranks(job, run, env, kind, impls, command_line);
  return run_rank(job, run, env, kind, impls, writers, command_line);
}

}  // namespace moebench
