#pragma once
// The CPU reference's GEMM: float weights packed into column panels, and a register-tiled
// micro-kernel that the compiler vectorises (plain loops, no intrinsics).
//
// A projection with N outputs over K inputs (canonical layout: N rows of K, K-contiguous) is
// packed as panels of kPanelWidth output columns; panel p is stored k-major, [K][kPanelWidth],
// so the micro-kernel streams it contiguously. The caller says which source row feeds each
// panel column (or none: the column is zero), which lets the gate/up projection interleave
// gate and up rows in one panel so the activation runs on the accumulators.
#include <cstdint>
#include <cstring>
#include <functional>

#include "core/dtype.hpp"

namespace moebench::cpu {

constexpr int kPanelWidth = 8;  // output columns per panel (two SSE registers per row)
constexpr int kRowBlock = 4;    // rows (tokens) per micro-kernel call

// Packs `panels` panels of K-long columns from 16-bit `src` (bf16 or fp16 bits, rows of K)
// into `dst` (panels * K * kPanelWidth floats). source_row(p, j) gives the row of `src` for
// column j of panel p, or -1 for a zero column. Runs on all hardware threads.
void pack_panels(const uint16_t* src, DType dtype, int64_t K, int64_t panels,
                 const std::function<int64_t(int64_t panel, int column)>& source_row, float* dst);
// The same from rows of floats (dequantised fp8 weights).
void pack_panels(const float* src, int64_t K, int64_t panels,
                 const std::function<int64_t(int64_t panel, int column)>& source_row, float* dst);

// Four floats as a GCC/Clang vector (not an intrinsic: one SSE register on baseline x86-64,
// NEON on ARM; the compiler may fuse pairs where AVX is enabled). Written with vectors because,
// given plain loops, GCC vectorises along k instead and shuffles; 16-byte vectors because
// wider generic vectors are kept in memory on baseline x86-64.
using Float4 = float __attribute__((vector_size(16)));
constexpr int kPanelVectors = kPanelWidth / 4;

// acc[i][j] = sum_k a[i][k] * panel[k][j] for i < kRowBlock, j < kPanelWidth, accumulated in
// float in k order. Every a[i] points at K floats (pad short blocks with a row of zeros).
inline Float4 load_float4(const float* p) {
  Float4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void micro_kernel(const float* const a[kRowBlock], const float* panel, int64_t K,
                         float acc[kRowBlock][kPanelWidth]) {
  Float4 c[kRowBlock][kPanelVectors] = {};
  const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
  for (int64_t k = 0; k < K; ++k) {
    Float4 b[kPanelVectors];
    for (int v = 0; v < kPanelVectors; ++v) b[v] = load_float4(panel + k * kPanelWidth + 4 * v);
    const float x[kRowBlock] = {a0[k], a1[k], a2[k], a3[k]};
    for (int i = 0; i < kRowBlock; ++i)
      for (int v = 0; v < kPanelVectors; ++v) c[i][v] += x[i] * b[v];
  }
  for (int i = 0; i < kRowBlock; ++i)
    for (int j = 0; j < kPanelWidth; ++j) acc[i][j] = c[i][j / 4][j % 4];
}

}  // namespace moebench::cpu
