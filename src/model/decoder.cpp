// Decoder (decoder.hpp): the forward of the decoder stack, on one device or over tensor-parallel ranks.
#include "model/decoder.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace moebench {

std::vector<PrefillChunk> plan_prefill(int64_t batch, int64_t input_len, int64_t max_tokens) {
  std::vector<PrefillChunk> plan;
  if (input_len <= max_tokens) {
    const int64_t group = std::max<int64_t>(1, max_tokens / input_len);
    for (int64_t s = 0; s < batch; s += group)
      plan.push_back({s, std::min(group, batch - s), 0, int(input_len)});
    return plan;
  }
  for (int64_t s = 0; s < batch; ++s)
    for (int64_t start = 0; start < input_len; start += max_tokens)
      plan.push_back({s, 1, int(start), int(std::min(max_tokens, input_len - start))});
  return plan;
}

int64_t prefill_step_rows(int64_t batch, int64_t input_len, int64_t max_tokens) {
  int64_t rows = 0;
  for (const PrefillChunk& c : plan_prefill(batch, input_len, max_tokens)) rows = std::max(rows, c.rows());
  return rows;
}

int64_t DecoderLimits::max_step_rows() const {
  return std::max(max_batch, prefill_step_rows(max_batch, input_len, prefill_chunk));
}

Decoder::Decoder(Backend& backend, const DecoderConfig& config, const ModelWeights& weights, ModelOps& ops,
                 MoeImpl* moe, const DecoderLimits& limits, const DecoderRanks& ranks)
    : backend_(backend), config_(config), weights_(weights), ops_(ops), moe_(moe), limits_(limits), ranks_(ranks),
      shard_(weights.shard()) {
  const ModelConfig& m = config.model;
  if (!moe && m.moe_layer_count() > 0) throw std::invalid_argument("Decoder: MoE layers need an implementation");
  const int world = ranks.comm ? ranks.comm->size() : 1, rank = ranks.comm ? ranks.comm->rank() : 0;
  if (shard_.tp != world || shard_.rank != rank)
    throw std::invalid_argument(fmt::format("Decoder: the weights are rank {} of {}'s shard, the decoder rank {} of {}",
                                            shard_.rank, shard_.tp, rank, world));
  const int64_t rows = limits.max_step_rows(), B = limits.max_batch, H = m.hidden_size;
  const size_t elem = size_t(dtype_bytes(config.dtype));
  h_ = DeviceBuffer(backend, size_t(rows * H) * elem);
  xn_ = DeviceBuffer(backend, size_t(rows * H) * elem);
  out_ = DeviceBuffer(backend, size_t(rows * H) * elem);
  qkv_ = DeviceBuffer(backend, size_t(rows * shard_.qkv_width()) * elem);
  q_ = DeviceBuffer(backend, size_t(rows * shard_.q_width()) * elem);
  attn_ = DeviceBuffer(backend, size_t(rows * shard_.q_width()) * elem);
  if (m.moe_layer_count() > 0) router_logits_ = DeviceBuffer(backend, size_t(rows * m.num_experts) * sizeof(float));
  if (m.first_k_dense_replace > 0) {
    dense_h_ = DeviceBuffer(backend, size_t(rows * 2 * shard_.dense_inter) * elem);
    dense_act_ = DeviceBuffer(backend, size_t(rows * shard_.dense_inter) * elem);
  }
  last_ = DeviceBuffer(backend, size_t(B * H) * elem);
  last_normed_ = DeviceBuffer(backend, size_t(B * H) * elem);
  logits_ = DeviceBuffer(backend, size_t(B * m.vocab_size) * sizeof(float));
  tokens_ = DeviceBuffer(backend, size_t(B) * sizeof(int32_t));
  positions_ = DeviceBuffer(backend, size_t(B) * sizeof(int32_t));
  context_lens_ = DeviceBuffer(backend, size_t(B) * sizeof(int32_t));
  if (collective()) {
    partial_ = DeviceBuffer(backend, size_t(rows * H) * sizeof(float));
    if (ranks.moe_token_slice && m.moe_layer_count() > 0) {
      const int64_t part = (rows + world - 1) / world;  // the largest rank's slice
      moe_part_ = DeviceBuffer(backend, size_t(part * H) * elem);
      moe_gathered_ = DeviceBuffer(backend, size_t(world) * size_t(part * H) * elem);
    }
    rank_logits_ = DeviceBuffer(backend, size_t(B * shard_.vocab_stride) * sizeof(float));
    gathered_logits_ = DeviceBuffer(backend, size_t(world) * size_t(B * shard_.vocab_stride) * sizeof(float));
  }
  // A decode step before any prefill (priming, before a graph is recorded) reads token 0.
  backend.fill_bytes(tokens_.get(), 0, tokens_.bytes());
}

int64_t Decoder::activation_bytes() const {
  int64_t total = 0;
  for (const DeviceBuffer* b : {&h_, &xn_, &out_, &qkv_, &q_, &attn_, &router_logits_, &dense_h_, &dense_act_, &last_,
                                &last_normed_, &logits_, &tokens_, &positions_, &context_lens_, &partial_, &moe_part_,
                                &moe_gathered_, &rank_logits_, &gathered_logits_})
    total += int64_t(b->bytes());
  return total;
}

AttentionDims Decoder::dims(const KvCache& cache, int64_t sequences) const {
  const ModelConfig& m = config_.model;
  AttentionDims d;
  d.batch = int(sequences);
  d.num_heads = shard_.heads;
  d.num_kv_heads = shard_.kv_heads;
  d.head_dim = m.head_dim;
  d.max_context = int(cache.max_context());
  d.softmax_scale = 1.0f / std::sqrt(float(m.head_dim));
  return d;
}

char* Decoder::cache_at(void* layer_cache, const KvCache& cache, int64_t first_seq) const {
  return static_cast<char*>(layer_cache) + size_t(first_seq * cache.sequence_elements()) * size_t(dtype_bytes(config_.dtype));
}

void Decoder::layers(KvCache& cache, const Step& step) {
  const ModelConfig& m = config_.model;
  const int64_t rows = step.rows(), H = m.hidden_size;
  const float eps = float(m.rms_norm_eps);
  const AttentionDims d = dims(cache, step.sequences);
  // Each residual add is fused with the norm that follows it (the next layer's attention norm
  // after the MLP): two kernels fewer per layer in every decode step.
  ops_.rms_norm(h_.get(), weights_.layer(0).attn_norm.get(), rows, H, eps, xn_.get());
  for (int l = 0; l < m.num_layers; ++l) {
    const DecoderLayerWeights& w = weights_.layer(l);
    ops_.linear(xn_.get(), w.qkv.get(), qkv_.get(), rows, shard_.qkv_width(), H);
    QkvToCacheArgs a;
    a.qkv = qkv_.get();
    a.q_norm = w.q_norm.get();
    a.k_norm = w.k_norm.get();
    a.positions = step.decode ? positions_.as<int32_t>() : nullptr;
    a.start_pos = step.start_pos;
    a.rows = rows;
    a.tokens_per_seq = step.tokens_per_seq;
    a.rope_theta = float(m.rope_theta);
    a.eps = eps;
    a.dims = d;
    a.dims.window = m.layer_is_sliding(l) ? int(m.sliding_window) : 0;
    a.q = q_.get();
    a.k_cache = cache_at(cache.k(l), cache, step.first_seq);
    a.v_cache = cache_at(cache.v(l), cache, step.first_seq);
    if (step.decode) {
      ops_.qkv_attention_decode(a, context_lens_.as<int32_t>(), attn_.get());
    } else {
      ops_.qkv_to_cache(a);
      ops_.attention_prefill(q_.get(), a.k_cache, a.v_cache, attn_.get(), a.dims, int(step.tokens_per_seq),
                             step.start_pos);
    }
    row_parallel(attn_.get(), w.o.get(), rows, shard_.q_width(), out_.get());
    ops_.add_rms_norm(h_.get(), out_.get(), w.ffn_norm.get(), rows, H, eps, xn_.get());
    mlp(l, rows);
    if (l + 1 < m.num_layers)
      ops_.add_rms_norm(h_.get(), out_.get(), weights_.layer(l + 1).attn_norm.get(), rows, H, eps, xn_.get());
    else
      ops_.add(h_.get(), out_.get(), rows * H);
  }
}

void Decoder::row_parallel(const void* x, const void* w, int64_t rows, int64_t k, void* out) {
  const int64_t H = config_.model.hidden_size;
  if (!collective()) {
    ops_.linear(x, w, out, rows, H, k);
    return;
  }
  ops_.linear(x, w, partial_.get(), rows, H, k, /*out_fp32=*/true);
  ranks_.comm->all_reduce_sum(partial_.as<float>(), size_t(rows * H));
  ops_.round_fp32(partial_.as<float>(), rows * H, out);
}

void Decoder::embed(const int32_t* tokens, int64_t rows) {
  const int64_t H = config_.model.hidden_size;
  if (!collective()) {
    ops_.embed(tokens, rows, weights_.embedding(), H, h_.get());
    return;
  }
  ops_.embed_vocab_rows(tokens, rows, weights_.embedding(), H, shard_.vocab_begin, shard_.vocab_end,
                        partial_.as<float>());
  ranks_.comm->all_reduce_sum(partial_.as<float>(), size_t(rows * H));
  ops_.round_fp32(partial_.as<float>(), rows * H, h_.get());
}

void Decoder::mlp(int layer, int64_t rows) {
  const ModelConfig& m = config_.model;
  const DecoderLayerWeights& w = weights_.layer(layer);
  const int64_t H = m.hidden_size;
  if (config_.is_dense(layer)) {
    const int64_t I = shard_.dense_inter;
    ops_.linear(xn_.get(), w.dense_gate_up.get(), dense_h_.get(), rows, 2 * I, H);
    ops_.gated_activation(m.activation, dense_h_.get(), rows, I, dense_act_.get());
    row_parallel(dense_act_.get(), w.dense_down.get(), rows, I, out_.get());
    return;
  }
  ops_.linear(xn_.get(), w.router.get(), router_logits_.get(), rows, m.num_experts, H, /*out_fp32=*/true);
  if (on_router_logits) on_router_logits(layer, router_logits_.as<float>(), rows);
  moe_->bind_weights(w.experts->view());
  moe(rows);
}

void Decoder::moe(int64_t rows) {
  if (!collective() || !ranks_.moe_token_slice) {
    moe_->forward(LayerArgs{xn_.get(), router_logits_.as<float>(), out_.get(), rows});
    return;
  }
  // The rank's slice of the rows, then every rank's slice into out_ in rank order.
  const ModelConfig& m = config_.model;
  const int64_t H = m.hidden_size;
  const size_t row_bytes = size_t(H) * size_t(dtype_bytes(config_.dtype));
  Communicator& comm = *ranks_.comm;
  const auto [begin, end] = even_part(rows, comm.rank(), comm.size());
  moe_->forward(LayerArgs{static_cast<const char*>(xn_.get()) + size_t(begin) * row_bytes,
                          router_logits_.as<float>() + begin * m.num_experts, moe_part_.get(), end - begin, rows});
  const int64_t part = largest_part(rows, comm.size());
  comm.all_gather(moe_part_.get(), size_t(part) * row_bytes, moe_gathered_.get());
  for (int r = 0; r < comm.size(); ++r) {
    const auto [b, e] = even_part(rows, r, comm.size());
    backend_.copy_2d(static_cast<char*>(out_.get()) + size_t(b) * row_bytes, 0,
                     moe_gathered_.as<char>() + size_t(r) * size_t(part) * row_bytes, 0, size_t(e - b) * row_bytes, 1);
  }
}

void Decoder::next_tokens(const void* hidden, int64_t rows, int64_t first_seq) {
  const ModelConfig& m = config_.model;
  const int64_t V = m.vocab_size, H = m.hidden_size;
  float* logits = logits_.as<float>() + first_seq * V;
  ops_.rms_norm(hidden, weights_.final_norm(), rows, H, float(m.rms_norm_eps), last_normed_.get());
  if (!collective()) {
    ops_.linear(last_normed_.get(), weights_.lm_head(), logits, rows, V, H, /*out_fp32=*/true);
  } else {
    // Each rank's logits [rows][its vocabulary rows], in its room of stride rows, gathered and
    // laid side by side into [rows][V].
    Communicator& comm = *ranks_.comm;
    const int64_t stride = shard_.vocab_stride;
    if (shard_.vocab_rows() > 0)
      ops_.linear(last_normed_.get(), weights_.lm_head(), rank_logits_.get(), rows, shard_.vocab_rows(), H,
                  /*out_fp32=*/true);
    comm.all_gather(rank_logits_.get(), size_t(rows * stride) * sizeof(float), gathered_logits_.get());
    for (int r = 0; r < comm.size(); ++r) {
      const auto [vb, ve] = shard_.vocab_of(r);
      const size_t width = size_t(ve - vb) * sizeof(float);
      backend_.copy_2d(logits + vb, size_t(V) * sizeof(float),
                       gathered_logits_.as<float>() + size_t(r) * size_t(rows * stride), width, width, size_t(rows));
    }
  }
  ops_.argmax(logits, rows, V, tokens_.as<int32_t>() + first_seq);
}

void Decoder::prefill(KvCache& cache, const int32_t* prompts, int64_t batch, int64_t input_len) {
  if (batch > limits_.max_batch || batch > cache.batch() || input_len > limits_.input_len ||
      input_len >= cache.max_context())
    throw std::invalid_argument(fmt::format("Decoder::prefill: batch {} x {} tokens beyond the limits ({} x {})",
                                            batch, input_len, limits_.max_batch, limits_.input_len));
  const int64_t H = config_.model.hidden_size;
  for (const PrefillChunk& c : plan_prefill(batch, input_len, limits_.prefill_chunk)) {
    const Step step{c.first_seq, c.sequences, c.len, c.start_pos, false};
    embed(prompts + c.first_seq * input_len + c.start_pos, c.rows());
    layers(cache, step);
    if (c.start_pos + c.len == input_len) {  // the prompts' last tokens: their next tokens
      ops_.last_token_rows(h_.get(), c.sequences, c.len, H, last_.get());
      next_tokens(last_.get(), c.sequences, c.first_seq);
    }
  }
}

void Decoder::start_decode(int64_t batch, int64_t input_len) {
  const std::vector<int32_t> positions(static_cast<size_t>(batch), int32_t(input_len));
  const std::vector<int32_t> context(static_cast<size_t>(batch), int32_t(input_len + 1));
  backend_.copy_to_device(positions_.get(), positions.data(), positions.size() * sizeof(int32_t));
  backend_.copy_to_device(context_lens_.get(), context.data(), context.size() * sizeof(int32_t));
}

void Decoder::decode_step(KvCache& cache, int64_t batch) {
  const Step step{0, batch, 1, 0, true};
  embed(tokens_.as<int32_t>(), batch);
  layers(cache, step);
  next_tokens(h_.get(), batch, 0);
  ops_.advance_positions(positions_.as<int32_t>(), context_lens_.as<int32_t>(), batch);
}

}  // namespace moebench
