#pragma once
// The layer benchmark on one rank of an expert/tensor-parallel run, and the merge of every
// rank's figures into the rows rank 0 prints and records.
//
// Every rank makes the SAME global inputs from the seed (router logits of the whole batch, the
// hidden states of token t as element t of one synthetic stream) and takes its part: its slice of
// the batch (even_part of num_tokens over the ranks) for an implementation that takes a slice,
// the whole batch for one that takes it whole. It verifies its slice of the output against the
// fp64 reference of those global inputs, computed on the CPU with the full weights (the same
// values everywhere: layer_weights.hpp), then warms up and times the iterations, every iteration
// started together (a barrier) and timed as the one-device runner times it (CUDA events on a GPU,
// the host clock on the CPU), the backend synchronised after each. What a rank measured travels
// to rank 0 as JSON (gather_to_root).
//
// A row is the slowest rank's: latency per iteration is the maximum over ranks, each phase
// (dispatch, expert compute, combine) the slowest rank's mean. Verification passes only when it
// passed on every rank and some token was checked. The rows' counters add the bytes sent and
// received, the achieved GB/s of the exchanges and the load across ranks (expert rows per rank,
// max / mean) beside the load across experts; each rank's own figures go to the record's
// details ("ranks").
//
// Beside the exchanges' GB/s stands the ceiling measured on the same communicator in the same run
// (dist/bus_bandwidth.hpp, nccl-tests' busbw): all-to-all for an implementation whose ranks take a
// slice of the batch (ep: dispatch and combine are all-to-alls), all-reduce for one whose ranks
// take it whole (tp). The exchange's own busbw (comm_busbw_gbps) is counted as nccl-tests counts
// a collective's: the bytes the busiest rank sent to other ranks over the slowest rank's dispatch
// + combine time; comm_busbw_fraction is it over the ceiling (alltoall_busbw_gbps or
// allreduce_busbw_gbps). The phases include the rank's own work around the exchange (routing,
// packing, the weighted sum), so the fraction is a lower bound on how well the links were used.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/ceilings.hpp"
#include "backend/backend.hpp"
#include "bench/layer_result.hpp"
#include "bench/layer_runner.hpp"
#include "dist/bus_bandwidth.hpp"
#include "dist/communicator.hpp"

namespace moebench {

// Runs every implementation x scenario x token count of `options` on this rank; returns what it
// measured, as JSON text, for gather_to_root. Progress (rank 0 only) through `progress`.
std::string run_rank_layer_benchmark(Backend& backend, Communicator& comm, const LayerRunOptions& options,
                                     const ProgressFn& progress);

struct ParallelLayerRow {
  LayerResult result;
  nlohmann::ordered_json ranks;  // one object per rank, by rank
};

// Rank 0: the rows of the run from every rank's JSON (gather_to_root's blobs, by rank), with the
// run's exchange ceilings (measure_exchange_ceilings on the run's communicator) beside the
// exchanges' GB/s.
std::vector<ParallelLayerRow> merge_rank_results(const std::vector<std::string>& blobs, const LayerRunOptions& options,
                                                 const Backend& backend, const Ceilings& ceilings,
                                                 const ExchangeCeilings& exchange);

}  // namespace moebench
