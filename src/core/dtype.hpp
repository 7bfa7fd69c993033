#pragma once
// Storage types of weights and activations, and exact conversions to and from float.
//
// Values are kept as raw bits (uint16_t for bf16/fp16, uint8_t for fp8 e4m3) so that host
// code needs no CUDA headers; the conversions round to nearest even, bit-identical with the
// CUDA intrinsics, so that CPU and GPU see exactly the same numbers.
#include <cstdint>
#include <cstring>
#include <string>

#include "core/host_device.hpp"

namespace moebench {

enum class DType { bf16, fp16, fp8, fp32 };

const char* dtype_name(DType t);
// Parses "bf16", "fp16", "fp8", "fp32" (also "bfloat16", "float16"); throws InputError.
DType parse_dtype(const std::string& text);
// Bytes of one stored element (fp8: 1, not counting its block scales).
int dtype_bytes(DType t);
// The dtype of a layer's activations (inputs, outputs) for weights of dtype `t`: fp8 layers
// take and return bf16 (the activations are quantised inside, per token: fp8_scaling.hpp).
MB_HD DType activation_dtype(DType t) { return t == DType::fp8 ? DType::bf16 : t; }

MB_HD float bits_to_float(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}
MB_HD uint32_t float_to_bits(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  return bits;
}

MB_HD float bf16_to_float(uint16_t h) { return bits_to_float(uint32_t(h) << 16); }

// Round to nearest even; NaN stays a (quiet) NaN.
MB_HD uint16_t float_to_bf16(float f) {
  uint32_t bits = float_to_bits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x0040u);
  uint32_t rounding_bias = 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t((bits + rounding_bias) >> 16);
}

MB_HD float fp16_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1fu) return bits_to_float(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return bits_to_float(sign);
    // Subnormal half: value = mantissa * 2^-24, exact in float.
    float v = float(mantissa) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return bits_to_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// Round to nearest even, overflow to infinity, like __float2half_rn.
MB_HD uint16_t float_to_fp16(float f) {
  uint32_t bits = float_to_bits(f);
  uint16_t sign = uint16_t((bits >> 16) & 0x8000u);
  uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return uint16_t(sign | 0x7e00u);
  if (abs_bits >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds past 65504
  if (abs_bits < 0x38800000u) {                                   // below 2^-14: subnormal
    float a = bits_to_float(abs_bits);
    // Scale so one half-subnormal ulp is 1.0; float's own round-to-nearest-even does the rest.
    float scaled = a * 16777216.0f;  // 2^24
    uint32_t q = uint32_t(scaled);
    float rest = scaled - float(q);
    if (rest > 0.5f || (rest == 0.5f && (q & 1u))) ++q;
    return uint16_t(sign | q);
  }
  uint32_t rounding = 0xfffu + ((abs_bits >> 13) & 1u);
  abs_bits += rounding;
  return uint16_t(sign | (((abs_bits >> 13) - (112u << 10)) & 0x7fffu));
}

// Rounds a float to the precision of `t` and back (fp32: unchanged).
MB_HD float round_to_dtype(float f, DType t) {
  if (t == DType::bf16) return bf16_to_float(float_to_bf16(f));
  if (t == DType::fp16) return fp16_to_float(float_to_fp16(f));
  return f;
}

// Converts stored 16-bit bits of type `t` (bf16 or fp16) to float.
MB_HD float half_bits_to_float(uint16_t bits, DType t) {
  return t == DType::fp16 ? fp16_to_float(bits) : bf16_to_float(bits);
}
MB_HD uint16_t float_to_half_bits(float f, DType t) {
  return t == DType::fp16 ? float_to_fp16(f) : float_to_bf16(f);
}

}  // namespace moebench
