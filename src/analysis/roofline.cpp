#include "analysis/roofline.hpp"

#include <algorithm>
#include <cmath>

namespace moebench {

double expert_weight_bytes(int64_t hidden, int64_t inter, DType dtype, Fp8Scaling fp8_scaling) {
  const double elements = 3.0 * double(hidden) * double(inter);
  if (dtype != DType::fp8) return elements * double(dtype_bytes(dtype));
  return elements + 4.0 * double(fp8_gate_up_scales(fp8_scaling, hidden, inter) +
                                 fp8_down_scales(fp8_scaling, hidden, inter));
}

LayerWork layer_work(const ModelConfig& m, int64_t num_tokens, DType dtype, int active_experts,
                     Fp8Scaling fp8_scaling) {
  const double T = double(num_tokens), H = double(m.hidden_size), I = double(m.moe_intermediate_size);
  const double S = double(m.num_shared_experts), Is = double(m.shared_intermediate_size);
  const double a = double(dtype_bytes(activation_dtype(dtype)));
  LayerWork w;
  w.flops = 2.0 * T * double(m.top_k) * 3.0 * H * I + 2.0 * T * S * 3.0 * H * Is;
  w.bytes_min = double(active_experts) * expert_weight_bytes(m.hidden_size, m.moe_intermediate_size, dtype, fp8_scaling) +
                (S > 0 ? S * expert_weight_bytes(m.hidden_size, m.shared_intermediate_size, dtype, fp8_scaling) : 0.0) +
                2.0 * T * H * a;
  return w;
}

double roofline_floor_ms(const LayerWork& work, const Ceilings& ceilings) {
  if (!ceilings.known()) return NAN;
  double compute_ms = work.flops / (ceilings.gemm_tflops * 1e12) * 1e3;
  double memory_ms = work.bytes_min / (ceilings.copy_gbps * 1e9) * 1e3;
  return std::max(compute_ms, memory_ms);
}

}  // namespace moebench
