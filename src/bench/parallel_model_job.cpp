// run_parallel_model_job: `moebench model` over several ranks (parallel_model_job.hpp).
#include "bench/parallel_model_job.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "bench/model_records.hpp"
#include "bench/rank_job.hpp"
#include "core/errors.hpp"
#include "core/test_fault.hpp"
#include "results/environment.hpp"
#include "results/timestamps.hpp"

namespace moebench {

namespace {

// What every rank must run alike: a rank whose fingerprint differs is refused, the field named.
nlohmann::json fingerprint(const std::vector<ModelRunOptions>& runs, BackendKind kind) {
  const ModelRunOptions& r = runs.front();
  const ModelConfig& m = r.decoder.model;
  std::vector<int64_t> inputs, outputs;
  for (const ModelRunOptions& run : runs) {
    inputs.push_back(run.input_len);
    outputs.push_back(run.output_len);
  }
  return {{"model", m.name},
          {"num_layers", m.num_layers},
          {"hidden_size", m.hidden_size},
          {"num_attention_heads", m.num_attention_heads},
          {"num_key_value_heads", m.num_kv_heads},
          {"vocab_size", m.vocab_size},
          {"num_experts", m.num_experts},
          {"top_k", m.top_k},
          {"moe_intermediate_size", m.moe_intermediate_size},
          {"batch_sizes", r.batch_sizes},
          {"input_lens", inputs},
          {"output_lens", outputs},
          {"dtype", dtype_name(r.decoder.dtype)},
          {"impl", r.moe_impl},
          {"tp_size", r.tp_size},
          {"ep_size", r.ep_size},
          {"warmup_runs", r.warmup_runs},
          {"benchmark_runs", r.benchmark_runs},
          {"chunked_prefill_size", r.prefill_chunk},
          {"backend", backend_kind_name(kind)},
          {"seed", r.seed}};
}

// Every planned configuration of the run, failed with `message`.
void record_failures(const ModelJob& job, const std::vector<ModelRunOptions>& runs, const Backend& backend,
                     const std::string& command_line, FailureKind kind, const std::string& message) {
  std::unique_ptr<ResultsStore> store = job.record.open();
  if (!store) return;
  const RecordContext context{current_environment(backend.device_info(), backend.kind()), command_line,
                              invocation_group_id("model", job.record.run_name), utc_now_iso()};
  std::vector<RunRecord> records;
  for (const ModelRunOptions& run : runs) {
    std::vector<RunRecord> failed = model_failure_records(run, context, kind, message);
    for (RunRecord& r : failed) r.details["world_size"] = run.tp_size;
    records.insert(records.end(), failed.begin(), failed.end());
  }
  set_finished(records, utc_now_iso());
  store->record(records);
}

// The least of `value` over the ranks, on every rank.
int64_t least_over_ranks(Backend& backend, Communicator& comm, int64_t value) {
  DeviceBuffer mine(backend, sizeof value), all(backend, sizeof value * size_t(comm.size()));
  backend.copy_to_device(mine.get(), &value, sizeof value);
  comm.all_gather(mine.get(), sizeof value, all.get());
  comm.synchronize();
  std::vector<int64_t> values(static_cast<size_t>(comm.size()));
  backend.copy_to_host(values.data(), all.get(), all.bytes());
  return *std::min_element(values.begin(), values.end());
}

// A rank other than 0 that refused the run as rank 0 did: it waits for rank 0, which says why,
// to leave first (its end ends the barrier), so that the node's launcher sees rank 0's exit.
void wait_for_root_to_leave(Communicator& comm) {
  try {
    comm.barrier();
    comm.synchronize();
  } catch (const RuntimeFailure&) {
  }
}

// One rank, start to end.
int run_rank(const ModelJob& job, const std::vector<ModelRunOptions>& runs, const RankEnv& env, BackendKind kind,
             const std::vector<const WriterEntry*>& writers, const std::string& command_line) {
  const bool root = env.rank == 0;
  select_rank_device(kind, env);
  std::unique_ptr<Backend> backend = make_backend(kind);
  const DeviceInfo device = backend->device_info();
  // What this rank may hold: its GPU's free memory, or its share of its node's.
  const int64_t free_bytes = kind == BackendKind::cuda ? device.free_memory_bytes
                                                       : device.free_memory_bytes / env.local_world_size;
  // Each rank's traces in a folder of its own: DIR/rank<N>.
  ModelJob rank_job = job;
  rank_job.profile.dir = (std::filesystem::path(job.profile.dir) / fmt::format("rank{}", env.rank)).string();
  try {
    std::unique_ptr<Communicator> comm = join_ranks(*backend, env, fingerprint(runs, kind), job.dist_timeout_s);
    ModelPlacement placement;
    placement.comm = comm.get();
    placement.available_bytes = least_over_ranks(*backend, *comm, free_bytes);
    placement.where = fmt::format(" per rank on {} ({}, {} ranks{})", device.name, backend_kind_name(kind),
                                  comm->size(), kind == BackendKind::cpu ? " sharing the node's memory" : "");
    try {
      return run_model_benchmarks(rank_job, *backend, runs, writers, command_line, placement);
    } catch (const InputError&) {
      // Every rank plans alike and refuses alike: rank 0 says it, the others leave after it.
      if (root) throw;
      wait_for_root_to_leave(*comm);
      return 2;
    }
  } catch (const RuntimeFailure& e) {
    if (!leave_rank_failure(env.rank, e) && root)
      record_failures(job, runs, *backend, command_line, e.kind(), fmt::format("rank {}: {}", env.rank, e.what()));
    throw;
  }
}

}  // namespace

bool is_parallel_model_job(const ModelJob& job) {
  return job.tp_size > 1 || job.ep_size > 1 || job.nnodes != 1 || job.node_rank != 0 || !job.dist_init_addr.empty();
}

int run_parallel_model_job(const ModelJob& job, const std::string& command_line) {
  // Everything the user gave is checked before any rank starts.
  const BackendKind kind = resolved_backend_kind(job.backend);
  if (kind == BackendKind::cuda && cuda_device_count() == 0) make_backend(kind);  // says why there is none
  const std::vector<const WriterEntry*> writers = model_checked_writers(job);
  const std::vector<ModelRunOptions> runs = model_run_options(job, kind);
  job.profile.check();
  check_test_fault();
  const RankEnv env = resolve_run_ranks(kind, job.tp_size, job.nnodes, job.node_rank, job.dist_init_addr);
  if (env.launches_local_ranks())
    return launch_node_ranks(env, "model", [&](FailureKind failure, const std::string& message) {
      record_failures(job, runs, *make_backend(kind), command_line, failure, message);
    });
  return leave_rank_input_error(env.rank, [&] { return run_rank(job, runs, env, kind, writers, command_line); });
}

}  // namespace moebench
