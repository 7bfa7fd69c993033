#pragma once
// The synthetic weights of a decoder stack on a backend, scaled like moe/layer_weights.hpp:
// every matrix uniform with variance 1 / fan_in, so each projection keeps activations O(1);
// the embedding has unit variance; norm weights are 1 + U(-0.1, 0.1), so that a norm that
// forgot its weight shows. Element i of tensor S of layer l is
// synth_value(seed, S, l * numel(S) + i, scale); each MoE layer's experts are a LayerWeightStore
// of seed layer_seed(seed, l).
//
// Layouts (K-contiguous, as cuBLAS "TN" and the CPU ops read them):
//   embedding, lm_head [V][H]   (lm_head aliases the embedding when tie_word_embeddings)
//   qkv   [(heads + 2 kv_heads) * head_dim][H]: q heads, then k heads, then v heads
//   o     [H][heads * head_dim]
//   dense gate/up [2 I][H] (gate rows first), down [H][I]
//   router [E][H]; norms [H]; q_norm, k_norm [head_dim]
//
// A rank of a tensor-parallel run (ModelRank) holds its shard (model/decoder_shard.hpp) in the
// same layouts at the shard's sizes, each element the value the whole tensor has there: the
// vocabulary's rows [vocab_begin, vocab_end) of the embedding and LM head; the q rows of its
// heads and the k and v rows of its KV heads of qkv; the columns of its heads of o; the gate and
// up rows of its dense columns, and those columns of down. Routers and norms are whole on every
// rank; each MoE layer holds what the rank's MoE implementation runs (moe/rank_weights.hpp).
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.hpp"
#include "model/decoder_config.hpp"
#include "model/decoder_shard.hpp"
#include "moe/layer_weights.hpp"

namespace moebench {

enum class ModelStream : uint64_t {
  embedding = uint64_t(SynthStream::dense_weights),
  lm_head,
  attention_qkv,
  attention_o,
  dense_gate_up,
  dense_down,
  router,
  norms,
};

uint64_t layer_seed(uint64_t seed, int layer);
// Host values of a norm weight: 1 + U(-0.1, 0.1), rounded to `dtype`; `which` tells the norms
// of one layer apart.
std::vector<uint16_t> norm_weight_values(uint64_t seed, int layer, int which, int64_t size, DType dtype);

struct DecoderLayerWeights {
  DeviceBuffer attn_norm, ffn_norm, q_norm, k_norm;  // q_norm, k_norm only with qk_norm
  DeviceBuffer qkv, o;
  DeviceBuffer dense_gate_up, dense_down;  // dense layers
  DeviceBuffer router;                     // MoE layers
  std::unique_ptr<ExpertWeightStore> experts;
};

// Which part of the model a rank holds: its decoder shard, and its place in the MoE layers
// with what its MoE implementation runs of them (ImplInfo::holds; null: every MoE layer whole).
struct ModelRank {
  DecoderShard shard;
  MoeParallel moe;  // tp_size, ep_size, rank; the communicator is not needed here
  RankExperts (*holds)(const LayerSpec& spec) = nullptr;
};

class ModelWeights {
 public:
  // The whole model.
  ModelWeights(Backend& backend, const DecoderConfig& config, uint64_t seed);
  // One rank's part.
  ModelWeights(Backend& backend, const DecoderConfig& config, uint64_t seed, const ModelRank& rank);
  const DecoderShard& shard() const { return rank_.shard; }
  const DecoderLayerWeights& layer(int l) const { return layers_[size_t(l)]; }
  const void* embedding() const { return embedding_.get(); }  // the shard's vocabulary rows
  const void* lm_head() const { return config_.model.tie_word_embeddings ? embedding_.get() : lm_head_.get(); }
  const void* final_norm() const { return final_norm_.get(); }
  int64_t bytes() const { return bytes_; }

 private:
  // Rows of a tensor [rows][cols] of `stream`: the blocks given, each {first row, rows, first
  // column, columns}, stacked one under the other.
  struct Block {
    int64_t row = 0, rows = 0, col = 0, cols = 0;
  };
  DeviceBuffer matrix(Backend& backend, ModelStream stream, int layer, int64_t rows, int64_t cols,
                      const std::vector<Block>& blocks);
  DeviceBuffer norm(Backend& backend, int layer, int which, int64_t size);

  DecoderConfig config_;
  uint64_t seed_;
  ModelRank rank_;
  DeviceBuffer embedding_, lm_head_, final_norm_;
  std::vector<DecoderLayerWeights> layers_;
  int64_t bytes_ = 0;
};

}  // namespace moebench
