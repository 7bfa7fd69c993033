// The fp8 scaling recipes (fp8_scaling.hpp): names, and quantisation of weight matrices and
// of one token's activations.
#include "core/fp8_scaling.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/errors.hpp"

namespace moebench {

const char* fp8_scaling_name(Fp8Scaling s) {
  switch (s) {
    case Fp8Scaling::block: return "block";
    case Fp8Scaling::channel: return "channel";
    case Fp8Scaling::tensor: return "tensor";
  }
  return "?";
}

Fp8Scaling parse_fp8_scaling(const std::string& text) {
  if (text == "block") return Fp8Scaling::block;
  if (text == "channel") return Fp8Scaling::channel;
  if (text == "tensor") return Fp8Scaling::tensor;
  throw InputError("--fp8-scaling '" + text +
                   "': use block (128x128 weight blocks, DeepSeek-V3), channel or tensor (vLLM fp8_w8a8)");
}

void quantize_weights_fp8(const float* values, int64_t rows, int64_t cols, Fp8Scaling s, uint8_t* q, float* scales) {
  const int64_t n = fp8_weight_scales(s, rows, cols);
  std::vector<float> amax(size_t(n), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float& m = amax[size_t(fp8_weight_scale_index(s, r, c, cols))];
      m = std::max(m, std::fabs(values[r * cols + c]));
    }
  for (int64_t i = 0; i < n; ++i) scales[i] = fp8_scale_of(amax[size_t(i)]);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      q[r * cols + c] = float_to_e4m3(values[r * cols + c] / scales[fp8_weight_scale_index(s, r, c, cols)]);
}

void quantize_activations_fp8(const float* x, int64_t cols, Fp8Scaling s, uint8_t* q, float* scales) {
  const int64_t width = s == Fp8Scaling::block ? kFp8Group : cols;
  for (int64_t g = 0; g * width < cols; ++g) {
    const int64_t begin = g * width, end = std::min(cols, begin + width);
    float amax = 0.0f;
    for (int64_t c = begin; c < end; ++c) amax = std::max(amax, std::fabs(x[c]));
    scales[g] = fp8_scale_of(amax);
    for (int64_t c = begin; c < end; ++c) q[c] = float_to_e4m3(x[c] / scales[g]);
  }
}

void fake_quantize_activations_fp8(float* x, int64_t cols, Fp8Scaling s) {
  std::vector<uint8_t> q(static_cast<size_t>(cols));
  std::vector<float> scales(size_t(fp8_activation_scales(s, cols)));
  quantize_activations_fp8(x, cols, s, q.data(), scales.data());
  const int64_t width = s == Fp8Scaling::block ? kFp8Group : cols;
  for (int64_t c = 0; c < cols; ++c) x[c] = e4m3_to_float(q[size_t(c)]) * scales[size_t(c / width)];
}

}  // namespace moebench
