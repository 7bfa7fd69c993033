#pragma once
// How fp8 weights and activations are scaled (--fp8-scaling), and the quantisation routines
// every fp8 path shares, so that the layer, its fp64 check and the memory model agree on what
// an fp8 layer holds. Values are e4m3 (core/fp8.hpp); value = e4m3_to_float(q) * scale.
//
//   block   DeepSeek-V3's recipe (also Qwen3-FP8, Kimi-K2, MiniMax-M2; SGLang's and vLLM's
//           "weight_block_size": [128, 128]): one fp32 scale per 128 x 128 block of each weight
//           matrix, activations quantised per token per 128-channel group.
//   channel vLLM's fp8_w8a8 with per-channel weights: one fp32 scale per output channel (weight
//           row), activations per token (dynamic).
//   tensor  vLLM's fp8_w8a8 with per-tensor weights: one fp32 scale per weight matrix (one
//           expert's gate/up or down projection), activations per token (dynamic).
//
// Every scale is amax / 448 of the values it covers (1 where they are all zero), so the
// largest of them encodes as +-448; a value is encoded as float_to_e4m3(v / scale). Blocks and
// groups at the edge of a matrix whose size is not a multiple of 128 cover what is left.
#include <cstdint>
#include <string>

#include "core/fp8.hpp"
#include "core/host_device.hpp"

namespace moebench {

enum class Fp8Scaling { block, channel, tensor };

constexpr int64_t kFp8Group = 128;  // block side and activation group width

const char* fp8_scaling_name(Fp8Scaling s);
// Parses --fp8-scaling: "block", "channel" or "tensor"; throws InputError naming the flag.
Fp8Scaling parse_fp8_scaling(const std::string& text);

MB_HD int64_t fp8_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// fp32 scales of one [rows][cols] weight matrix (rows: output channels, cols: K).
MB_HD int64_t fp8_weight_scales(Fp8Scaling s, int64_t rows, int64_t cols) {
  if (s == Fp8Scaling::block) return fp8_ceil_div(rows, kFp8Group) * fp8_ceil_div(cols, kFp8Group);
  return s == Fp8Scaling::channel ? rows : 1;
}
// The scale of element (r, c) of a [rows][cols] matrix: block [r / 128][c / 128] row-major,
// channel r, tensor 0.
MB_HD int64_t fp8_weight_scale_index(Fp8Scaling s, int64_t r, int64_t c, int64_t cols) {
  if (s == Fp8Scaling::block) return (r / kFp8Group) * fp8_ceil_div(cols, kFp8Group) + c / kFp8Group;
  return s == Fp8Scaling::channel ? r : 0;
}
// Activation scales of one token of `cols` channels: per 128-channel group (block), else one.
MB_HD int64_t fp8_activation_scales(Fp8Scaling s, int64_t cols) {
  return s == Fp8Scaling::block ? fp8_ceil_div(cols, kFp8Group) : 1;
}

// One MoE expert's scales: gate, up and down are three matrices, each scaled on its own (as in
// the checkpoints: separate gate_proj / up_proj / down_proj, separate 128x128 scale grids). Its
// gate/up scales are the gate's fp8_weight_scales(s, inter, H), then the up's; its down scales
// fp8_weight_scales(s, H, inter).
MB_HD int64_t fp8_gate_up_scales(Fp8Scaling s, int64_t hidden, int64_t inter) {
  return 2 * fp8_weight_scales(s, inter, hidden);
}
MB_HD int64_t fp8_down_scales(Fp8Scaling s, int64_t hidden, int64_t inter) {
  return fp8_weight_scales(s, hidden, inter);
}
// The scale of element (r, c) of an expert's w13 [2 * inter][H] within its gate/up scales.
MB_HD int64_t fp8_gate_up_scale_index(Fp8Scaling s, int64_t r, int64_t c, int64_t hidden, int64_t inter) {
  return r < inter ? fp8_weight_scale_index(s, r, c, hidden)
                   : fp8_weight_scales(s, inter, hidden) + fp8_weight_scale_index(s, r - inter, c, hidden);
}

// The scale of values whose largest magnitude is `amax`.
MB_HD float fp8_scale_of(float amax) { return amax > 0.0f ? amax / kE4m3Max : 1.0f; }

// Quantises a [rows][cols] matrix (floats) into q [rows][cols] and scales
// [fp8_weight_scales(s, rows, cols)].
void quantize_weights_fp8(const float* values, int64_t rows, int64_t cols, Fp8Scaling s, uint8_t* q, float* scales);

// Quantises one token's activations x [cols] into q [cols] and scales
// [fp8_activation_scales(s, cols)].
void quantize_activations_fp8(const float* x, int64_t cols, Fp8Scaling s, uint8_t* q, float* scales);

// Replaces x [cols] by its quantised-then-dequantised values, as an fp8 GEMM sees them.
void fake_quantize_activations_fp8(float* x, int64_t cols, Fp8Scaling s);

}  // namespace moebench
