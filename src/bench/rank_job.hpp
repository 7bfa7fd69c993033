#pragma once
// What every benchmark that runs over several ranks shares (`layer`: bench/parallel_layer_job,
// `model`: bench/parallel_model_job), so that both start, connect and fail alike (DESIGN.md
// "Process model"):
//  - who this process is (dist/rank_env.hpp) for --tp-size ranks and the multi-node flags, one
//    GPU per local rank;
//  - the node's launcher: the process the user started on a node starts its ranks
//    (dist/launcher.hpp) and, when the run fails, says and records the first failure (the failed
//    rank's own kind and line where it left them, Crash where it died), once: on node 0;
//  - a rank's side of that: where it leaves its failure for the launcher;
//  - the rendezvous with the run's configuration (a rank of another configuration is refused,
//    the field named) and the communicator: Gloo between CPU ranks, NCCL between GPUs;
//  - the test hook on one rank (MOEBENCH_TEST_FAULT_RANK).
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "backend/backend.hpp"
#include "core/errors.hpp"
#include "dist/communicator.hpp"
#include "dist/rank_env.hpp"

namespace moebench {

// --backend's kind, auto resolved to CUDA where a GPU is visible, else the CPU.
BackendKind resolved_backend_kind(const std::string& backend);

// Who this process is in a run of `world_size` ranks (--tp-size) with --nnodes, --node-rank and
// --dist-init-addr: read from a launcher's variables, or from the flags. On GPUs, one GPU per
// local rank: more local ranks than visible GPUs is refused (InputError), unless a launcher gave
// each rank its one GPU.
RankEnv resolve_run_ranks(BackendKind kind, int world_size, int nnodes, int node_rank,
                          const std::string& dist_init_addr);

// Makes this local rank's GPU the one make_backend(cuda) drives (nothing on the CPU).
void select_rank_device(BackendKind kind, const RankEnv& env);

// The node's launcher (env.launches_local_ranks()): starts the node's ranks as this executable
// with the same arguments, waits for them, and returns the exit code. When the run failed with
// something no rank said or recorded, node 0 prints "moebench <command>: <kind>: <line>" and calls
// record_failure(kind, line).
int launch_node_ranks(const RankEnv& env, const std::string& command,
                      const std::function<void(FailureKind, const std::string&)>& record_failure);

// A rank's failure for its launcher: true when moebench's launcher started this rank (the
// launcher then records it), false when the rank must record it itself (rank 0 under torchrun,
// mpirun or srun).
bool leave_rank_failure(int rank, const RuntimeFailure& failure);

// Runs a rank's `body`. Bad input (InputError) of a rank that moebench's launcher started is left
// to the launcher, which says it once for the node (a rendezvous refusal reaches every rank alike),
// and the rank exits 2 without a word; elsewhere it propagates.
int leave_rank_input_error(int rank, const std::function<int()>& body);

// Joins the rendezvous of `env` with this rank's configuration fingerprint and makes its
// communicator on `backend` (Gloo between CPU ranks, NCCL between GPUs). `timeout_s`
// (--dist-timeout): how long the rendezvous and each collective wait for the peers. A peer that
// never arrived (a node not started, or started with another --dist-init-addr or --nnodes) is bad
// input, as a port in use is: the run never started, and nothing is recorded.
std::unique_ptr<Communicator> join_ranks(Backend& backend, const RankEnv& env, const nlohmann::json& config,
                                         double timeout_s);

// The test hook (core/test_fault.hpp) on the rank MOEBENCH_TEST_FAULT_RANK names, or on every rank.
void apply_rank_test_fault(int rank);

}  // namespace moebench
