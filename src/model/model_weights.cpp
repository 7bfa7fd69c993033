// ModelWeights (model_weights.hpp): a decoder stack's synthetic weights, whole or one rank's shard.
#include "model/model_weights.hpp"

#include "moe/rank_weights.hpp"

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

DeviceBuffer ModelWeights::matrix(Backend& backend, ModelStream stream, int layer, int64_t rows, int64_t cols,
                                  const std::vector<Block>& blocks) {
  const size_t elem = size_t(dtype_bytes(config_.dtype));
  size_t count = 0;
  for (const Block& b : blocks) count += size_t(b.rows * b.cols);
  DeviceBuffer out(backend, count * elem);
  const float scale = stream == ModelStream::embedding ? hidden_states_scale() : fan_in_scale(cols);
  // Element (r, c) of the whole tensor is element (layer + 1) * rows * cols + r * cols + c of the stream.
  const uint64_t first = uint64_t(layer + 1) * uint64_t(rows * cols);
  size_t at = 0;
  for (const Block& b : blocks) {
    backend.fill_synthetic_columns(out.as<char>() + at * elem, config_.dtype, size_t(b.rows), size_t(b.cols),
                                   size_t(cols), seed_, uint64_t(stream), first + uint64_t(b.row * cols + b.col),
                                   scale);
    at += size_t(b.rows * b.cols);
  }
  bytes_ += int64_t(out.bytes());
  return out;
}

DeviceBuffer ModelWeights::norm(Backend& backend, int layer, int which, int64_t size) {
  std::vector<uint16_t> values = norm_weight_values(seed_, layer, which, size, config_.dtype);
  DeviceBuffer b(backend, values.size() * sizeof(uint16_t));
  backend.copy_to_device(b.get(), values.data(), b.bytes());
  bytes_ += int64_t(b.bytes());
  return b;
}

ModelWeights::ModelWeights(Backend& backend, const DecoderConfig& config, uint64_t seed)
    : ModelWeights(backend, config, seed, ModelRank{decoder_shard(config, 1, 0), MoeParallel{}, nullptr}) {}

ModelWeights::ModelWeights(Backend& backend, const DecoderConfig& config, uint64_t seed, const ModelRank& rank)
    : config_(config), seed_(seed), rank_(rank) {
  const ModelConfig& m = config.model;
  const DecoderShard& sh = rank.shard;
  const int64_t H = m.hidden_size, hd = m.head_dim;
  const std::vector<Block> vocab = {{sh.vocab_begin, sh.vocab_rows(), 0, H}};
  embedding_ = matrix(backend, ModelStream::embedding, -1, m.vocab_size, H, vocab);
  if (!m.tie_word_embeddings) lm_head_ = matrix(backend, ModelStream::lm_head, -1, m.vocab_size, H, vocab);
  final_norm_ = norm(backend, -1, kAttnNorm, H);

  // qkv's rows: the shard's q heads, then its k heads and v heads; o's columns: its q heads.
  const int64_t q_rows = int64_t(m.num_attention_heads) * hd, kv_rows = int64_t(m.num_kv_heads) * hd;
  const std::vector<Block> qkv = {{sh.first_head * hd, sh.q_width(), 0, H},
                                  {q_rows + sh.first_kv_head * hd, sh.kv_width(), 0, H},
                                  {q_rows + kv_rows + sh.first_kv_head * hd, sh.kv_width(), 0, H}};
  const std::vector<Block> o = {{0, H, sh.first_head * hd, sh.q_width()}};
  const int64_t I = m.dense_intermediate_size;
  const std::vector<Block> gate_up = {{sh.dense_begin, sh.dense_inter, 0, H}, {I + sh.dense_begin, sh.dense_inter, 0, H}};
  const std::vector<Block> down = {{0, H, sh.dense_begin, sh.dense_inter}};

  layers_.resize(size_t(m.num_layers));
  for (int l = 0; l < m.num_layers; ++l) {
    DecoderLayerWeights& w = layers_[size_t(l)];
    w.attn_norm = norm(backend, l, kAttnNorm, H);
    w.ffn_norm = norm(backend, l, kFfnNorm, H);
    if (m.qk_norm) {
      w.q_norm = norm(backend, l, kQNorm, m.head_dim);
      w.k_norm = norm(backend, l, kKNorm, m.head_dim);
    }
    w.qkv = matrix(backend, ModelStream::attention_qkv, l, config.qkv_width(), H, qkv);
    w.o = matrix(backend, ModelStream::attention_o, l, H, config.q_width(), o);
    if (config.is_dense(l)) {
      w.dense_gate_up = matrix(backend, ModelStream::dense_gate_up, l, 2 * I, H, gate_up);
      w.dense_down = matrix(backend, ModelStream::dense_down, l, H, I, down);
    } else {
      w.router = matrix(backend, ModelStream::router, l, m.num_experts, H, {{0, m.num_experts, 0, H}});
      LayerSpec spec;
      spec.model = m;
      spec.dtype = config.dtype;
      spec.seed = layer_seed(seed, l);
      spec.parallel = rank.moe;
      spec.parallel.comm = nullptr;
      if (rank.holds)
        w.experts = std::make_unique<RankLayerWeightStore>(backend, spec, rank.holds(spec));
      else
        w.experts = std::make_unique<LayerWeightStore>(backend, spec);
      bytes_ += w.experts->bytes();
    }
  }
}

}  // namespace moebench
