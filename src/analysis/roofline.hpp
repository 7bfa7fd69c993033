#pragma once
// The roofline floor of one MoE layer forward (DESIGN.md, "Benchmark method").
//
//   flops     = 2 * T * k * 3 * H * I  (+ 2 * T * S * 3 * H * Is for S shared experts)
//   bytes_min = active_experts * 3 * H * I * b (+ S * 3 * H * Is * b) + 2 * T * H * b
//   floor_ms  = max(flops / gemm rate, bytes_min / copy rate)
// fp8 (--dtype fp8): weights count one byte each plus their fp32 scales (core/fp8_scaling.hpp,
// by --fp8-scaling), the hidden states in and out two bytes (bf16). The gemm rate is the one
// measured (bf16 tensor cores); the fp8 ceiling comes with the CUDA fp8 kernels.
#include <cstdint>

#include "analysis/ceilings.hpp"
#include "core/dtype.hpp"
#include "core/fp8_scaling.hpp"
#include "core/model_config.hpp"

namespace moebench {

struct LayerWork {
  double flops = 0;
  double bytes_min = 0;
};

LayerWork layer_work(const ModelConfig& model, int64_t num_tokens, DType dtype, int active_experts,
                     Fp8Scaling fp8_scaling = Fp8Scaling::block);

// Bytes of one expert's weights of intermediate size `inter`: gate, up and down, with their
// fp8 scales for fp8.
double expert_weight_bytes(int64_t hidden, int64_t inter, DType dtype, Fp8Scaling fp8_scaling = Fp8Scaling::block);

// NaN when the ceilings are unknown.
double roofline_floor_ms(const LayerWork& work, const Ceilings& ceilings);

}  // namespace moebench
