#pragma once
// `moebench model` over several ranks: --tp-size ranks in all (DESIGN.md "Process model"),
// --ep-size expert-parallel groups among them inside the MoE layers, --nnodes/--node-rank/
// --dist-init-addr to spread them over machines. Each rank holds its shard of the model
// (model/decoder.hpp: attention heads, dense MLPs and the vocabulary split tp ways, KV heads
// replicated when there are fewer than ranks; the MoE layers as the ep or tp implementation runs
// them, tp_size / ep_size ways inside each expert group), and generates the same tokens as every
// other rank.
//
// The ranks start, rendezvous, connect and fail as the layer benchmark's do (bench/rank_job.hpp):
// the process the user started on a node starts its ranks (or is one, under torchrun, mpirun or
// srun); a rank running another configuration is refused, the field named; Gloo between CPU
// ranks, NCCL between GPUs. The memory pre-flight is per rank (per GPU): the memory model's
// prediction under the run's layout against the least free memory of any rank (a CPU rank's
// share of its node's), so every rank plans the same batch sizes; a run of which no batch size
// fits exits 2 with rank 0's one line, before anything is allocated or recorded. Every rank
// then runs the benchmark (bench/model_job.hpp's run_model_benchmarks) and rank 0 gathers every
// rank's figures, prints the report and records one record per configuration (batch size x
// lengths) with each rank's figures in its details. A rank that fails makes the others fail; the
// run's configurations are recorded as failures of the first failure's kind, once (by node 0's
// launcher, or by rank 0 under another launcher).
#include <string>

#include "bench/model_job.hpp"

namespace moebench {

// Whether `job` runs over several ranks or names a multi-node flag: then run_parallel_model_job.
bool is_parallel_model_job(const ModelJob& job);

// Runs `job` as run_model_job does (same checks, report, files, records and exit codes) over its ranks.
int run_parallel_model_job(const ModelJob& job, const std::string& command_line);

}  // namespace moebench
