#include "model/model_weights.hpp"

namespace moebench {

namespace {

// Norms of a layer: attention input, MLP input, q, k; the final norm is layer -1's first.
constexpr int kAttnNorm = 0, kFfnNorm = 1, kQNorm = 2, kKNorm = 3, kNormsPerLayer = 4;
constexpr float kNormSpread = 0.1f;

}  // namespace

uint64_t layer_seed(uint64_t seed, int layer) { return splitmix64(seed ^ (0x5eedull << 20)) + uint64_t(layer); }

std::vector<uint16_t> norm_weight_values(uint64_t seed, int layer, int which, int64_t size, DType dtype) {
  std::vector<uint16_t> out(static_cast<size_t>(size));
  const uint64_t first = (uint64_t(layer + 1) * kNormsPerLayer + uint64_t(which)) * uint64_t(size);
  for (int64_t i = 0; i < size; ++i)
    out[size_t(i)] = float_to_half_bits(
        1.0f + synth_value(seed, uint64_t(ModelStream::norms), first + uint64_t(i), kNormSpread), dtype);
  return out;
}

DeviceBuffer ModelWeights::matrix(Backend& backend, ModelStream stream, int layer, int64_t rows, int64_t cols) {
  const size_t count = size_t(rows * cols);
  DeviceBuffer b(backend, count * size_t(dtype_bytes(config_.dtype)));
  const float scale = stream == ModelStream::embedding ? hidden_states_scale() : fan_in_scale(cols);
  backend.fill_synthetic(b.get(), config_.dtype, count, seed_, uint64_t(stream), uint64_t(layer + 1) * count, scale);
  bytes_ += int64_t(b.bytes());
  return b;
}

DeviceBuffer ModelWeights::norm(Backend& backend, int layer, int which, int64_t size) {
  std::vector<uint16_t> values = norm_weight_values(seed_, layer, which, size, config_.dtype);
  DeviceBuffer b(backend, values.size() * sizeof(uint16_t));
  backend.copy_to_device(b.get(), values.data(), b.bytes());
  bytes_ += int64_t(b.bytes());
  return b;
}

ModelWeights::ModelWeights(Backend& backend, const DecoderConfig& config, uint64_t seed)
    : config_(config), seed_(seed) {
  const ModelConfig& m = config.model;
  const int64_t H = m.hidden_size;
  embedding_ = matrix(backend, ModelStream::embedding, -1, m.vocab_size, H);
  if (!m.tie_word_embeddings) lm_head_ = matrix(backend, ModelStream::lm_head, -1, m.vocab_size, H);
  final_norm_ = norm(backend, -1, kAttnNorm, H);

  layers_.resize(size_t(m.num_layers));
  for (int l = 0; l < m.num_layers; ++l) {
    DecoderLayerWeights& w = layers_[size_t(l)];
    w.attn_norm = norm(backend, l, kAttnNorm, H);
    w.ffn_norm = norm(backend, l, kFfnNorm, H);
    if (m.qk_norm) {
      w.q_norm = norm(backend, l, kQNorm, m.head_dim);
      w.k_norm = norm(backend, l, kKNorm, m.head_dim);
    }
    w.qkv = matrix(backend, ModelStream::attention_qkv, l, config.qkv_width(), H);
    w.o = matrix(backend, ModelStream::attention_o, l, H, config.q_width());
    if (config.is_dense(l)) {
      w.dense_gate_up = matrix(backend, ModelStream::dense_gate_up, l, 2 * m.dense_intermediate_size, H);
      w.dense_down = matrix(backend, ModelStream::dense_down, l, H, m.dense_intermediate_size);
    } else {
      w.router = matrix(backend, ModelStream::router, l, m.num_experts, H);
      LayerSpec spec;
      spec.model = m;
      spec.dtype = config.dtype;
      spec.seed = layer_seed(seed, l);
      w.experts = std::make_unique<LayerWeightStore>(backend, spec);
      bytes_ += w.experts->bytes();
    }
  }
}

}  // namespace moebench
