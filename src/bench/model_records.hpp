#pragma once
// The records `moebench model` stores: one per batch size, keyed model::model_config_key(...).
// A batch size the pre-flight refused is a failure of type OOM with the pre-flight's line
// ("does not fit: needed X GiB vs available Y GiB ..."); one that failed at run time is a
// failure of its FailureKind; a run that failed before its first batch size records that
// failure for every batch size it planned.
//
// The details of a record are the run's and the batch size's figures beyond its metrics: the
// raw runs, latency distributions, start-up, memory layout, the last generated tokens (the json
// output format writes them); over ranks also each rank's own figures ("ranks"), as the layer
// benchmark's records keep theirs.
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/model_result.hpp"
#include "bench/model_runner.hpp"
#include "core/errors.hpp"
#include "results/record_context.hpp"

namespace moebench {

// Seed 002's success entry of a model run shows exactly these fields between "config" and
// "last_updated", in this order (the tracker output format): {tracker field, param or metric
// name}. The tracker files keep SGLang's names: its itl_ms is our mean_itl_ms.
const std::vector<std::pair<std::string, std::string>>& seed002_model_fields();

// The layer count a key and params name: the layers run when the stack is truncated
// (--num-layers), 0 for the whole model.
int truncated_layers(const DecoderConfig& decoder);

// A batch size's params: batch_size, input_len, output_len (seed 002's three), dtype, moe_impl,
// tp_size, ep_size, and num_layers when `num_layers` > 0 (a truncated stack).
nlohmann::ordered_json model_params(int64_t batch_size, int64_t input_len, int64_t output_len,
                                    const std::string& dtype, const std::string& moe_impl, int tp_size, int ep_size,
                                    int num_layers);

// What every batch size of a run shares: the stack that ran, lengths, runs, seed, the copy
// bandwidth and the start-up phase times.
nlohmann::ordered_json model_run_details(const ModelResult& result);
// One batch size: status, raw runs, latency distributions, decode launch, TPOT floor,
// the memory layout measured beside the prediction (the prediction alone when it did not run).
nlohmann::ordered_json model_batch_details(const BatchResult& batch);

// A run over ranks: each rank's own figures of the batch size (the record's details "ranks").
nlohmann::ordered_json model_rank_details(const BatchResult& batch);

std::vector<RunRecord> model_records(const ModelRunOptions& options, const ModelResult& result,
                                     const RecordContext& context);

// One failure per batch size of `options`, for a run that failed before any batch size ran.
std::vector<RunRecord> model_failure_records(const ModelRunOptions& options, const RecordContext& context,
                                             FailureKind kind, const std::string& message);

}  // namespace moebench
