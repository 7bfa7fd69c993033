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
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.hpp"
#include "model/decoder_config.hpp"
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
  std::unique_ptr<LayerWeightStore> experts;
};

class ModelWeights {
 public:
  ModelWeights(Backend& backend, const DecoderConfig& config, uint64_t seed);
  const DecoderLayerWeights& layer(int l) const { return layers_[size_t(l)]; }
  const void* embedding() const { return embedding_.get(); }
  const void* lm_head() const { return lm_head_.get() ? lm_head_.get() : embedding_.get(); }
  const void* final_norm() const { return final_norm_.get(); }
  int64_t bytes() const { return bytes_; }

 private:
  DeviceBuffer matrix(Backend& backend, ModelStream stream, int layer, int64_t rows, int64_t cols);
  DeviceBuffer norm(Backend& backend, int layer, int which, int64_t size);

  DecoderConfig config_;
  uint64_t seed_;
  DeviceBuffer embedding_, lm_head_, final_norm_;
  std::vector<DecoderLayerWeights> layers_;
  int64_t bytes_ = 0;
};

}  // namespace moebench
