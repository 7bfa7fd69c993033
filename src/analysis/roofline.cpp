#include "analysis/roofline.hpp"

#include <algorithm>
#include <cmath>

namespace moebench {

LayerWork layer_work(const ModelConfig& m, int64_t num_tokens, DType dtype, int active_experts) {
  const double T = double(num_tokens), H = double(m.hidden_size), I = double(m.moe_intermediate_size);
  const double S = double(m.num_shared_experts), Is = double(m.shared_intermediate_size);
  const double b = double(dtype_bytes(dtype));
  LayerWork w;
  w.flops = 2.0 * T * double(m.top_k) * 3.0 * H * I + 2.0 * T * S * 3.0 * H * Is;
  w.bytes_min = double(active_experts) * 3.0 * H * I * b + S * 3.0 * H * Is * b + 2.0 * T * H * b;
  return w;
}

double roofline_floor_ms(const LayerWork& work, const Ceilings& ceilings) {
  if (!ceilings.known()) return NAN;
  double compute_ms = work.flops / (ceilings.gemm_tflops * 1e12) * 1e3;
  double memory_ms = work.bytes_min / (ceilings.copy_gbps * 1e9) * 1e3;
  return std::max(compute_ms, memory_ms);
}

}  // namespace moebench
