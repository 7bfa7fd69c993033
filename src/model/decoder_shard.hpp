#pragma once
// What one rank of a tensor-parallel decoder holds, Megatron-style as SGLang and vLLM split a
// model over --tp-size GPUs: its query heads and the KV heads they read (replicated when the
// model has fewer KV heads than ranks), its columns of the dense MLPs' intermediate dimension
// (column-parallel gate/up, row-parallel down), and its rows of the vocabulary (embedding and
// LM head). The arithmetic is analysis/parallel_layout's, which the memory model counts per GPU,
// so the pre-flight and the allocations describe the same shard. The MoE layers' part is the MoE
// implementation's (moe/moe_parallel.hpp, moe/rank_weights.hpp). One rank's shard is the whole
// model. Backend-neutral: the CPU and CUDA ranks take the same shard.
#include <cstdint>
#include <utility>

#include "model/decoder_config.hpp"

namespace moebench {

struct DecoderShard {
  int tp = 1, rank = 0;
  int heads = 0, first_head = 0;        // query heads [first_head, first_head + heads)
  int kv_heads = 0, first_kv_head = 0;  // the KV heads they read
  int64_t head_dim = 0;
  int64_t dense_inter = 0, dense_begin = 0;  // dense MLP intermediate columns [begin, begin + inter)
  int64_t vocab = 0;                         // the whole vocabulary
  int64_t vocab_stride = 0;                  // rows per rank: ceil(vocab / tp), each rank's room in a gather
  int64_t vocab_begin = 0, vocab_end = 0;    // this rank's rows

  int64_t q_width() const { return int64_t(heads) * head_dim; }
  int64_t kv_width() const { return int64_t(kv_heads) * head_dim; }
  int64_t qkv_width() const { return q_width() + 2 * kv_width(); }
  int64_t vocab_rows() const { return vocab_end - vocab_begin; }
  // Rank r's rows of the vocabulary.
  std::pair<int64_t, int64_t> vocab_of(int r) const;
};

// Rank `rank` of `tp`; the layout must be one analysis/parallel_layout accepts for the model
// (validate_layout), else std::invalid_argument.
DecoderShard decoder_shard(const DecoderConfig& config, int tp, int rank);

}  // namespace moebench
