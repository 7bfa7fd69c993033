#pragma once
// `moebench layer` over several ranks: --tp-size ranks in all (DESIGN.md "Process model"),
// --ep-size expert-parallel groups among them, --nnodes/--node-rank/--dist-init-addr to spread
// them over machines.
//
// The process the user started resolves who it is (dist/rank_env.hpp). Started by mpirun, srun,
// torchrun or moebench's own launcher, it is one rank; otherwise it starts its node's ranks
// itself (dist/launcher.hpp, as torchrun --nproc-per-node does) and waits for them. A rank joins
// the rendezvous with the run's configuration (a rank running another one is refused, the field
// named), makes its communicator (Gloo between CPU ranks, NCCL between GPUs, one GPU per local
// rank), runs the benchmark (bench/parallel_layer_runner.hpp), and global rank 0 gathers every
// rank's figures, prints the table and records one record per configuration with each rank's
// figures in its details. The other ranks print nothing but errors.
//
// Bad input (experts not divisible by --ep-size, --tp-size not a multiple of it, more ranks on a
// node than GPUs, a --node-rank outside --nnodes, a --tp-size the nodes cannot share) exits 2
// before any rank starts, with nothing recorded; so does a rendezvous that never completes (a
// peer that did not arrive within --dist-timeout, a --dist-init-addr port in use, a rank of
// another configuration), said once per node: a launcher's ranks leave their line to it. A rank
// that fails makes the others fail within --dist-timeout; the run's rows are recorded as failures
// of the first failure's kind (the failed rank's own when it could say: NcclError for a failed
// collective; Crash when it died), once: by node 0's launcher when moebench started the ranks,
// by rank 0 otherwise.
#include <string>

#include "bench/layer_job.hpp"

namespace moebench {

// Whether `job` runs over several ranks or names a multi-node flag: then run_parallel_layer_job.
bool is_parallel_layer_job(const LayerJob& job);

// Runs `job` as run_layer_job does (same checks, table, files, records and exit codes) over its
// ranks.
int run_parallel_layer_job(const LayerJob& job, const std::string& command_line);

}  // namespace moebench
