#pragma once
// The roofline floor of one MoE layer forward (DESIGN.md, "Benchmark method").
//
//   flops     = 2 * T * k * 3 * H * I  (+ 2 * T * S * 3 * H * Is for S shared experts)
//   bytes_min = active_experts * 3 * H * I * b (+ S * 3 * H * Is * b) + 2 * T * H * b
//   floor_ms  = max(flops / gemm rate, bytes_min / copy rate)
#include <cstdint>

#include "analysis/ceilings.hpp"
#include "core/dtype.hpp"
#include "core/model_config.hpp"

namespace moebench {

struct LayerWork {
  double flops = 0;
  double bytes_min = 0;
};

LayerWork layer_work(const ModelConfig& model, int64_t num_tokens, DType dtype, int active_experts);

// NaN when the ceilings are unknown.
double roofline_floor_ms(const LayerWork& work, const Ceilings& ceilings);

}  // namespace moebench
