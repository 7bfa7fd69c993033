#pragma once
// Materialises one MoE layer's synthetic weights on a backend, in the canonical layout of
// layer_spec.hpp, and says how every value is defined so any reader can regenerate it.
//
// Value of element i of tensor S: synth_value(seed, S, i, sqrt(3 / fan_in)), rounded to the
// layer dtype: uniform with variance 1/fan_in, so activations stay O(1) through the layer.
// fp8 layers hold those bf16 values quantised (moe/fp8_weights.hpp, --fp8-scaling), so one seed
// gives the same model in bf16 and fp8. fp8 runs on the CPU backend only in this build.
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"
#include "core/synthetic.hpp"
#include "moe/layer_spec.hpp"

namespace moebench {

inline float fan_in_scale(int64_t fan_in) { return std::sqrt(3.0f / float(fan_in)); }
// Hidden-state inputs have unit variance; rotation r uses its own stream.
inline uint64_t hidden_states_stream(int rotation) {
  return uint64_t(SynthStream::hidden_states) + 256u * uint64_t(rotation);
}
inline float hidden_states_scale() { return std::sqrt(3.0f); }
// The score-correction bias is small next to sigmoid scores, as in trained DeepSeek-V3.
constexpr float kScoreBiasScale = 0.05f;

// Host copy of the score-correction bias ([E] floats), or empty when the model has none.
std::vector<float> score_bias_values(const ModelConfig& model, uint64_t seed);

// What holds one MoE layer's weights on a backend: the whole layer (LayerWeightStore) or one
// rank's part of it (moe/rank_weights.hpp). On the CPU backend the routed experts are filled
// lazily (LazyExperts: an expert's values when routing first selects it); on a GPU all at once,
// as kernels read them unannounced.
class ExpertWeightStore : public LazyExperts {
 public:
  virtual const LayerWeights& view() const = 0;
  // Bytes held on the backend (allocated; on the CPU, pages of unfilled experts stay untouched).
  virtual int64_t bytes() const = 0;
};

class LayerWeightStore final : public ExpertWeightStore {
 public:
  LayerWeightStore(Backend& backend, const LayerSpec& spec);
  LayerWeightStore(const LayerWeightStore&) = delete;  // view() points into this object
  LayerWeightStore& operator=(const LayerWeightStore&) = delete;
  const LayerWeights& view() const override { return view_; }
  int64_t bytes() const override;
  void ensure(int expert) const override;

 private:
  void fill_expert(int expert) const;
  void fill_fp8(int expert, int64_t inter, SynthStream gate_up, SynthStream down, const DeviceBuffer& q13,
                const DeviceBuffer& q2, const DeviceBuffer& s13, const DeviceBuffer& s2) const;

  Backend& backend_;
  LayerSpec spec_;
  DeviceBuffer w13_, w2_, shared_w13_, shared_w2_, shared_gate_, score_bias_;
  DeviceBuffer w13_scale_, w2_scale_, shared_w13_scale_, shared_w2_scale_;  // fp8 only
  mutable std::vector<bool> filled_;  // per routed expert; empty: all filled
  LayerWeights view_;
};

}  // namespace moebench
