#pragma once
// The model benchmark's figures on each rank of a run over ranks, and rank 0's merge of them
// into the one result it prints and records (bench/parallel_model_job.hpp), as the layer
// benchmark merges its ranks (bench/parallel_layer_runner.hpp).
//
// Every rank times its own runs. A batch size's run is the slowest rank's: per run the longest
// TTFT, decode time and step time of any rank (the ranks step together through their
// collectives, so this is the run's time as a user sees it), and the metrics follow from those.
// Its memory is the rank that holds the most, the one that decides the fit. Every rank must have
// generated the same tokens (all of them pick each next token from the same gathered logits): a
// batch size whose ranks disagree fails its check (VerificationFailed). Each rank's own figures
// stay in BatchResult::ranks, which the records keep in their details.
#include <string>
#include <vector>

#include "bench/model_result.hpp"

namespace moebench {

// What this rank measured of `result`'s batch sizes, as JSON text for gather_to_root.
std::string model_rank_blob(const ModelResult& result, int rank);

// Rank 0: `result` (its own) becomes the run's, from every rank's blob (gather_to_root's, by rank).
void merge_model_ranks(ModelResult& result, const std::vector<std::string>& blobs);

}  // namespace moebench
