#pragma once
// One expert's fp8 weights: how its e4m3 bytes and fp32 scales are laid out, and their
// quantisation from the bf16 values every dtype starts from (so one seed gives one model in
// bf16 and fp8) and dequantisation back to floats.
//
// The layout of an expert's scales is core/fp8_scaling.hpp's (fp8_gate_up_scales and
// fp8_down_scales). The bytes keep the canonical layout of layer_spec.hpp (w13 [2 * inter][H],
// w2 [H][inter]), one byte per element.
#include <cstdint>

#include "core/fp8_scaling.hpp"
#include "core/host_device.hpp"

namespace moebench {


// Quantises one expert from bf16 bits: w13 [2 * inter][H], w2 [H][inter] into q13, q2 (same
// shapes, e4m3) and s13, s2 (its scales, as above).
void quantize_expert_fp8(const uint16_t* w13_bf16, const uint16_t* w2_bf16, int64_t hidden, int64_t inter,
                         Fp8Scaling s, uint8_t* q13, float* s13, uint8_t* q2, float* s2);

// Dequantises one expert's e4m3 bytes and scales into floats w13 [2 * inter][H], w2 [H][inter].
void dequantize_expert_fp8(const uint8_t* q13, const float* s13, const uint8_t* q2, const float* s2,
                           int64_t hidden, int64_t inter, Fp8Scaling s, float* w13, float* w2);

}  // namespace moebench
