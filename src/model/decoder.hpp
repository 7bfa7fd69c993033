#pragma once
// The decoder stack's forward: prefill of a batch of prompts into the KV cache, then decode
// steps that each read the batch's next tokens and write the ones after. Token embedding,
// per layer RMSNorm -> QKV projection -> QK-norm and RoPE -> K/V cache write -> attention ->
// output projection -> residual add -> RMSNorm -> dense MLP or MoE block -> residual add, then
// the final norm, the LM head and the greedy next token.
//
// One prepared MoeImpl serves every MoE layer (bind_weights before each), so workspaces are
// held once. A decode step only enqueues work and keeps the sequence state (next tokens,
// positions, context lengths) on the backend, advancing it itself: it can be recorded once
// (Backend::record) and replayed output_len - 1 times.
//
// Over tensor-parallel ranks (DecoderRanks with a communicator), as Megatron-LM and SGLang run a
// model: every rank holds the same hidden states of every token and its shard of the weights
// (ModelWeights::shard()). The embedding is vocabulary-parallel (each rank looks up the tokens
// of its rows, an all-reduce sums them); the QKV projection and the dense MLP's gate/up are
// column-parallel (the rank's heads, its intermediate columns), so attention runs on the rank's
// heads and KV cache alone; the output projection and the dense MLP's down projection are
// row-parallel, their fp32 partial sums all-reduced and then rounded once to the dtype, as a
// one-device projection rounds its fp32 accumulation. The MoE implementation runs either every
// row (tp: it all-reduces itself) or the rank's slice of the rows (ep), whose outputs an
// all-gather puts back together. The LM head is vocabulary-parallel: each rank's fp32 logits of
// its rows are all-gathered into the whole vocabulary on every rank, whose argmax then picks the
// same next token everywhere. The collectives are enqueued in order on the backend's stream
// (NCCL) or run as called (Gloo), so a step still only enqueues work on a GPU.
#include <cstdint>
#include <functional>
#include <vector>

#include "backend/backend.hpp"
#include "dist/communicator.hpp"
#include "model/decoder_config.hpp"
#include "model/kv_cache.hpp"
#include "model/model_ops.hpp"
#include "model/model_weights.hpp"
#include "moe/moe_impl.hpp"

namespace moebench {

// One prefill step: `sequences` prompts from `first_seq`, their tokens [start_pos, start_pos + len).
struct PrefillChunk {
  int64_t first_seq = 0;
  int64_t sequences = 0;
  int start_pos = 0;
  int len = 0;
  int64_t rows() const { return sequences * len; }
};
// Prefill steps of at most `max_tokens` rows (at least one whole prompt's worth where a prompt
// is longer): groups of whole prompts, or each prompt in pieces when one does not fit.
std::vector<PrefillChunk> plan_prefill(int64_t batch, int64_t input_len, int64_t max_tokens);
// The most rows one step of the plan processes.
int64_t prefill_step_rows(int64_t batch, int64_t input_len, int64_t max_tokens);

struct DecoderLimits {
  int64_t max_batch = 0;
  int64_t input_len = 0;
  int64_t max_context = 0;      // input_len + output_len
  int64_t prefill_chunk = 0;    // most prompt tokens one prefill step takes (--chunked-prefill-size)
  // Rows one forward processes at most: the longest prefill step, or a decode step of max_batch.
  int64_t max_step_rows() const;
};

// Where a decoder stands among tensor-parallel ranks. Without a communicator: one device, the
// whole model, no collectives. With one (of any size, 1 included): the weights' shard of
// comm->size() ranks, completed by the collectives above.
struct DecoderRanks {
  Communicator* comm = nullptr;
  // The MoE implementation takes the rank's slice of each step's rows (RankTokens::token_slice:
  // even_part of the rows over the ranks) rather than all of them.
  bool moe_token_slice = false;
};

class Decoder {
 public:
  // `moe` may be null when every layer is dense; it must be prepared for max_step_rows() tokens
  // (with a token slice: for the largest slice of them). With a communicator, the weights must be
  // its rank's shard.
  Decoder(Backend& backend, const DecoderConfig& config, const ModelWeights& weights, ModelOps& ops, MoeImpl* moe,
          const DecoderLimits& limits, const DecoderRanks& ranks = {});

  // Prefills prompts [batch][input_len] (int32 token ids on the backend; input_len at most the
  // limits') into `cache` in the steps of plan_prefill(batch, input_len, prefill_chunk), and
  // writes each sequence's first generated token to tokens().
  void prefill(KvCache& cache, const int32_t* prompts, int64_t batch, int64_t input_len);
  // Sets the decode positions after prompts of input_len tokens (a host copy: not recordable).
  void start_decode(int64_t batch, int64_t input_len);
  // One decode step of the batch: reads tokens(), writes the next ones, advances the positions.
  void decode_step(KvCache& cache, int64_t batch);

  const int32_t* tokens() const { return tokens_.as<int32_t>(); }  // [max_batch], on the backend
  const float* logits() const { return logits_.as<float>(); }      // [max_batch][vocab] of the last step (whole on every rank)
  int64_t activation_bytes() const;

  // When set, called after each MoE layer's router logits ([rows][E] fp32 on the backend) are
  // enqueued, with the layer index: for routing statistics of eager steps only (a callback
  // that reads the logits synchronises, which a recorded step must not).
  std::function<void(int layer, const float* logits, int64_t rows)> on_router_logits;

 private:
  struct Step {
    int64_t first_seq = 0, sequences = 0, tokens_per_seq = 1;
    int start_pos = 0;
    bool decode = false;
    int64_t rows() const { return sequences * tokens_per_seq; }
  };
  void layers(KvCache& cache, const Step& step);
  void mlp(int layer, int64_t rows);
  // The MoE block of xn_ into out_: every row, or the rank's slice and an all-gather of every rank's.
  void moe(int64_t rows);
  // h_ = the embedding rows of `rows` tokens.
  void embed(const int32_t* tokens, int64_t rows);
  // out = x [rows][k] . w [hidden][k]^T of the rank's k columns, summed over the ranks.
  void row_parallel(const void* x, const void* w, int64_t rows, int64_t k, void* out);
  bool collective() const { return ranks_.comm != nullptr; }
  // Final norm, LM head and argmax of `rows` hidden states in `hidden`, for sequences from first_seq.
  void next_tokens(const void* hidden, int64_t rows, int64_t first_seq);
  AttentionDims dims(const KvCache& cache, int64_t sequences) const;
  char* cache_at(void* layer_cache, const KvCache& cache, int64_t first_seq) const;

  Backend& backend_;
  DecoderConfig config_;
  const ModelWeights& weights_;
  ModelOps& ops_;
  MoeImpl* moe_;
  DecoderLimits limits_;
  DecoderRanks ranks_;
  DecoderShard shard_;
  DeviceBuffer h_, xn_, out_, qkv_, q_, attn_, router_logits_, dense_h_, dense_act_;
  DeviceBuffer last_, last_normed_, logits_, tokens_, positions_, context_lens_;
  // With a communicator: fp32 partial sums [rows][H]; the MoE slice's output and every rank's
  // [ranks][slice rows][H]; the rank's logits [batch][vocab_stride] and every rank's.
  DeviceBuffer partial_, moe_part_, moe_gathered_, rank_logits_, gathered_logits_;
};

}  // namespace moebench
