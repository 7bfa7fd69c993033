#pragma once
// The records `moebench layer` stores: one per result row (implementation x scenario x token
// count), keyed model::layer_config_key(...), and a failure for every planned row when the run
// itself failed. A row that failed verification is a failure (VerificationFailed) that keeps
// its measurements.
//
// The records hold every field of a LayerResult, so that the layer layouts of the output
// formats (sgl-jax's CSV, the per-scenario Markdown) are made from records, the same for a run
// just finished and for one read back from the store.
#include <string>
#include <vector>

#include "analysis/ceilings.hpp"
#include "bench/layer_result.hpp"
#include "bench/layer_runner.hpp"
#include "bench/layer_writers.hpp"
#include "core/errors.hpp"
#include "results/record_context.hpp"

namespace moebench {

// A layer row's params: impl, scenario, num_tokens, dtype, tp_size, ep_size.
nlohmann::ordered_json layer_params(const std::string& impl, const std::string& scenario, int64_t num_tokens,
                                    const std::string& dtype, int tp_size, int ep_size);

// What every row of a run shares beyond its params: the model's shape, iterations, seed, and
// the measured ceilings (NaN until measured: null).
nlohmann::ordered_json layer_run_details(const LayerRunOptions& options, const Ceilings& ceilings);

std::vector<RunRecord> layer_records(const std::vector<LayerResult>& results, const RecordContext& context,
                                     const nlohmann::ordered_json& details);

// One failure per impl x scenario x token count that `options` planned.
std::vector<RunRecord> layer_failure_records(const LayerRunOptions& options, const std::vector<std::string>& impls,
                                             const RecordContext& context, const nlohmann::ordered_json& details,
                                             FailureKind kind, const std::string& message);
// One failure per case an implementation did not run (run_layer_benchmark's failures).
std::vector<RunRecord> layer_failure_records(const LayerRunOptions& options,
                                             const std::vector<LayerCaseFailure>& failures,
                                             const RecordContext& context, const nlohmann::ordered_json& details);

// The LayerResults of the records that carry measurements (successes, and rows that failed
// verification), in order: what the layer layouts of the CSV and Markdown show. A case that did
// not run has only its failure record, which the JSON and the store keep.
std::vector<LayerResult> measured_layer_results(const std::vector<RunRecord>& records);

// The LayerResult a layer record was made from (NaN or 0 where an older record lacks a field).
LayerResult layer_result_from_record(const RunRecord& record);
// What the records of one layer run share, read from the first: the table/Markdown header.
LayerReportContext layer_context_from_records(const std::vector<RunRecord>& records);

}  // namespace moebench
