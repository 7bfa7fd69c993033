#pragma once
// OCP FP8 E4M3FN ("float8_e4m3fn", the format of DeepSeek-V3's and Qwen3-FP8's checkpoints):
// exact conversions between float and its raw byte, usable on the host and in CUDA code.
//
// Layout: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities; S.1111.111 is NaN; the
// largest finite value is 448 (0x7e), the smallest normal 2^-6 (0x08), the smallest subnormal
// 2^-9 (0x01). Encoding rounds to nearest even and saturates to +-448 (the "satfinite" mode of
// CUDA's __nv_cvt_float_to_fp8 and PyTorch's scaled casts, where values were clamped first):
// out-of-range values and infinities become +-448, NaN becomes 0x7f (0xff with its sign).
#include <cstdint>

#include "core/dtype.hpp"
#include "core/host_device.hpp"

namespace moebench {

constexpr float kE4m3Max = 448.0f;

MB_HD float e4m3_to_float(uint8_t b) {
  const uint32_t sign = uint32_t(b & 0x80u) << 24;
  const uint32_t exponent = (b >> 3) & 0xfu, mantissa = b & 0x7u;
  if (exponent == 0xfu && mantissa == 0x7u) return bits_to_float(sign | 0x7fc00000u);
  if (exponent == 0) {
    const float v = float(mantissa) * 0.001953125f;  // 2^-9: exact
    return sign ? -v : v;
  }
  return bits_to_float(sign | ((exponent + 120u) << 23) | (mantissa << 20));
}

MB_HD uint8_t float_to_e4m3(float f) {
  const uint32_t bits = float_to_bits(f);
  const uint8_t sign = uint8_t((bits >> 24) & 0x80u);
  uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return uint8_t(sign | 0x7fu);  // NaN
  if (abs_bits >= 0x43e00000u) return uint8_t(sign | 0x7eu);  // >= 448 (and inf): saturate
  if (abs_bits < 0x3c800000u) {                               // below 2^-6: subnormal
    // Scale so one subnormal step is 1.0 (exact: a power of two), then round half to even;
    // a result of 8 is the smallest normal, whose encoding is 8 as well.
    const float scaled = bits_to_float(abs_bits) * 512.0f;
    uint32_t q = uint32_t(scaled);
    const float rest = scaled - float(q);
    if (rest > 0.5f || (rest == 0.5f && (q & 1u))) ++q;
    return uint8_t(sign | q);
  }
  abs_bits += 0x7ffffu + ((abs_bits >> 20) & 1u);  // round the 23-bit mantissa to 3 bits
  const uint32_t q = (abs_bits >> 20) - (120u << 3);
  return uint8_t(sign | (q > 0x7eu ? 0x7eu : q));  // 448 < |f| < 464 rounds to 448 anyway
}

// Rounds a float to e4m3 and back (saturating).
MB_HD float round_to_e4m3(float f) { return e4m3_to_float(float_to_e4m3(f)); }

}  // namespace moebench
