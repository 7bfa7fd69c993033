#pragma once
// Verification of a layer output against the fp64 CPU reference (DESIGN.md, Correctness).
//
// The reference regenerates nothing: it reads the weights back from the backend buffers
// (only the experts the checked tokens use, each once), so it works for every model size.
// Selection of experts is recomputed in float exactly as route() does (the routing weights
// then in double); a token whose k-th and (k+1)-th selection scores (or, with group-limited
// routing, whose topk_group-th and next group scores) are closer than a relative 1e-6 could
// legitimately route either way on another device, so it is left out of the comparison and
// counted. A run in which no sampled token could be checked fails: nothing was verified.
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"
#include "moe/layer_spec.hpp"

namespace moebench {

struct VerifyResult {
  bool passed = false;
  double rel_error = 0;            // ||out - ref|| / ||ref|| over the checked tokens
  int64_t tokens_checked = 0;
  int64_t tokens_ambiguous = 0;    // skipped: near-tie at the top-k boundary
  int64_t unwritten = 0;           // NaN/poisoned elements anywhere in the output
};

// Relative-error threshold for a layer dtype: 2e-2 for bf16 and fp16 (DESIGN.md), 1e-2 for fp8
// (against the reference on the dequantised weights and quantised activations: the check is of
// the fp8 arithmetic, not of what fp8 costs, which fp8_vs_bf16_rel_error reports), 1e-4 for fp32.
double verify_tolerance(DType dtype);

// x_host [T][H] and out_host [T][H] in activation_dtype(spec.dtype) bits, logits_host [T][E].
// An fp8 layer's reference applies the dequantised weights to activations quantised as the
// implementation quantises them (core/fp8_scaling.hpp): the input per token (group) before
// gate/up, the intermediate activation before down; everything else in double. Checks up to
// `max_tokens` tokens spread over the batch (all when T is smaller; else the first, the last
// and evenly spaced ones between), and every output element for NaN: an output element left
// unwritten reads as NaN, since the runner poisons outputs with 0xFF bytes. NaN never passes.
// With tile_rows > 0 the reference routes through tile-aware token rounding of the whole
// batch to that tile (routing/tile_rounding.hpp), as a tile-rounded implementation does.
// Throws InputError for max_tokens <= 0 or a dtype other than bf16/fp16/fp8.
VerifyResult verify_layer_output(Backend& backend, const LayerSpec& spec, const LayerWeights& weights,
                                 const uint16_t* x_host, const float* logits_host, int64_t num_tokens,
                                 const uint16_t* out_host, int64_t max_tokens = 64, int tile_rows = 0);

// The fp64 reference of one case (the tokens a check samples, their expected outputs), made
// once and compared with any number of outputs of that case: the layer runner makes it once
// per scenario x token count (and tile rounding) and checks every implementation against it,
// since reading a large model's experts back and applying them in double costs seconds.
struct LayerReference {
  int64_t num_tokens = 0;
  int64_t hidden_size = 0;
  DType dtype = DType::bf16;       // of the outputs (bf16 for an fp8 layer)
  double tolerance = 2e-2;         // verify_tolerance of the layer dtype
  std::vector<int64_t> checked;    // sampled tokens that route unambiguously
  int64_t tokens_ambiguous = 0;    // sampled tokens left out: near-tie at the top-k boundary
  std::vector<double> expected;    // [checked.size()][H]
};

// The reference verify_layer_output compares with (same arguments, without the output).
LayerReference make_layer_reference(Backend& backend, const LayerSpec& spec, const LayerWeights& weights,
                                    const uint16_t* x_host, const float* logits_host, int64_t num_tokens,
                                    int64_t max_tokens = 64, int tile_rows = 0);

// The reference of a replayed routing (--routing-file): the recorded expert ids [T][k] and
// combine weights [T][k] are used as they are (in double), not re-derived from logits, and no
// token is left out as ambiguous: the recording decided. tile_rows as above is not supported
// here (a tile-rounded implementation is checked with make_layer_reference on the replay's
// logits, which route to the same experts).
LayerReference make_replayed_reference(Backend& backend, const LayerSpec& spec, const LayerWeights& weights,
                                       const uint16_t* x_host, const int32_t* expert_ids, const float* routing_weights,
                                       int64_t num_tokens, int64_t max_tokens = 64);

// out_host [T][H] in the reference's dtype bits, T = reference.num_tokens.
VerifyResult check_against_reference(const LayerReference& reference, const uint16_t* out_host);

// The fp64 reference for a list of tokens: returns [tokens.size()][H] doubles. Weights are
// read from `weights` on `backend`. Exposed for tests.
std::vector<double> reference_forward_fp64(Backend& backend, const LayerSpec& spec, const LayerWeights& weights,
                                           const uint16_t* x_host, const float* logits_host,
                                           const std::vector<int64_t>& tokens);

}  // namespace moebench
