// Quantisation and dequantisation of one expert's fp8 weights (fp8_weights.hpp).
#include "moe/fp8_weights.hpp"

#include <vector>

#include "core/dtype.hpp"
#include "core/parallel.hpp"

namespace moebench {

namespace {

std::vector<float> bf16_floats(const uint16_t* bits, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = bf16_to_float(bits[i]);
  return v;
}

}  // namespace

void quantize_expert_fp8(const uint16_t* w13_bf16, const uint16_t* w2_bf16, int64_t hidden, int64_t inter,
                         Fp8Scaling s, uint8_t* q13, float* s13, uint8_t* q2, float* s2) {
  const int64_t n = inter * hidden;
  const std::vector<float> w13 = bf16_floats(w13_bf16, 2 * n), w2 = bf16_floats(w2_bf16, n);
  quantize_weights_fp8(w13.data(), inter, hidden, s, q13, s13);                  // gate
  quantize_weights_fp8(w13.data() + n, inter, hidden, s, q13 + n,                // up
                       s13 + fp8_weight_scales(s, inter, hidden));
  quantize_weights_fp8(w2.data(), hidden, inter, s, q2, s2);                     // down
}

void dequantize_expert_fp8(const uint8_t* q13, const float* s13, const uint8_t* q2, const float* s2,
                           int64_t hidden, int64_t inter, Fp8Scaling s, float* w13, float* w2) {
  parallel_for(2 * inter, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t c = 0; c < hidden; ++c)
        w13[r * hidden + c] = e4m3_to_float(q13[r * hidden + c]) * s13[fp8_gate_up_scale_index(s, r, c, hidden, inter)];
  }, 16);
  parallel_for(hidden, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t c = 0; c < inter; ++c)
        w2[r * inter + c] = e4m3_to_float(q2[r * inter + c]) * s2[fp8_weight_scale_index(s, r, c, inter)];
  }, 16);
}

}  // namespace moebench
