// decoder_shard (decoder_shard.hpp): a rank's part of the decoder from parallel_layout's arithmetic.
#include "model/decoder_shard.hpp"

#include <algorithm>
#include <stdexcept>
#include <tuple>

#include <fmt/format.h>

#include "analysis/parallel_layout.hpp"

namespace moebench {

std::pair<int64_t, int64_t> DecoderShard::vocab_of(int r) const {
  return {std::min(vocab, r * vocab_stride), std::min(vocab, (r + 1) * vocab_stride)};
}

DecoderShard decoder_shard(const DecoderConfig& config, int tp, int rank) {
  const ModelConfig& m = config.model;
  if (tp <= 0 || rank < 0 || rank >= tp)
    throw std::invalid_argument(fmt::format("decoder_shard: rank {} of {}", rank, tp));
  // What validate_layout refuses as bad input (with the flag to change) is a caller's bug here.
  const bool kv_split = m.num_kv_heads >= tp ? m.num_kv_heads % tp == 0 : tp % m.num_kv_heads == 0;
  if (m.num_attention_heads % tp != 0 || !kv_split ||
      (m.first_k_dense_replace > 0 && m.dense_intermediate_size % tp != 0))
    throw std::invalid_argument(fmt::format("decoder_shard: {} does not split {} ways", m.name, tp));
  DecoderShard s;
  s.tp = tp;
  s.rank = rank;
  s.head_dim = m.head_dim;
  s.heads = heads_per_rank(m, tp);
  s.first_head = rank * s.heads;
  s.kv_heads = kv_heads_per_rank(m, tp);
  s.first_kv_head = first_kv_head_of_rank(m, tp, rank);
  s.dense_inter = m.first_k_dense_replace > 0 ? m.dense_intermediate_size / tp : 0;
  s.dense_begin = rank * s.dense_inter;
  s.vocab = m.vocab_size;
  s.vocab_stride = vocab_rows_per_rank(m, tp);
  std::tie(s.vocab_begin, s.vocab_end) = vocab_rows_of_rank(m, tp, rank);
  return s;
}

}  // namespace moebench
