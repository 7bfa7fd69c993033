#pragma once
// --routing-file: recorded routing to replay (a model's real router decisions instead of a
// synthetic scenario).
//
// The format is moebench's own --export-routing output, which a few lines of PyTorch also write
// (bench/record_routing.py records it from a Hugging Face MoE forward): a directory holding
// manifest.json (or the manifest's own path) with
//   {"num_experts": E, "top_k": k,
//    "runs": [{"name": "layer3", "num_tokens": T,
//              "expert_ids": "layer3.ids.i32",      int32 [T][k], raw little-endian
//              "weights": "layer3.weights.f32",     float32 [T][k], the combine weights
//              "logits": "layer3.logits.f32"}]}     float32 [T][E], optional
// Array paths are relative to the manifest. A run without "name" is named by its "scenario"
// (the export's runs: one per scenario x token count). Everything is checked on load: the
// model's num_experts and top_k, array sizes, ids in [0, E) and distinct within a token,
// weights finite and non-negative.
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_config.hpp"
#include "routing/routing.hpp"

namespace moebench {

struct RecordedRouting {
  std::string name;
  Routing routing;            // ids and weights as recorded
  std::vector<float> logits;  // [T][E] when recorded, else empty
};

// Throws InputError "--routing-file PATH: REASON" for a missing or malformed file, or one
// recorded for another expert count or top-k than `model`.
std::vector<RecordedRouting> load_routing_file(const std::string& path, const ModelConfig& model);

// The first `num_tokens` tokens of `r` (a prefix: the batch a prefill of that many tokens sees).
RecordedRouting routing_prefix(const RecordedRouting& r, int64_t num_tokens);

}  // namespace moebench
