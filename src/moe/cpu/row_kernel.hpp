#pragma once
// The CPU reference's kernel for experts that few tokens reach: packed_gemm.hpp's micro-kernel
// reading its kPanelWidth weight columns straight from their 16-bit rows (bf16 or fp16) instead
// of from a packed float panel.
//
// A decode-sized batch over a large layer gives most experts one or two tokens. Converting such
// an expert to packed floats first writes and then reads twice the bytes that its weights hold,
// for a handful of multiply-adds per weight; reading the weights where they are is half the
// memory traffic and no packing at all. The arithmetic is the micro-kernel's, operation for
// operation (each column's sum in k order, in float), so a token's output is bit for bit the
// same whichever kernel its experts ran on: outputs do not depend on the rest of the batch.
#include <algorithm>
#include <cstdint>

#include "core/dtype.hpp"
#include "moe/cpu/packed_gemm.hpp"

namespace moebench::cpu {

// acc[i][j] = sum_k float(rows[j][k]) * a[i][k] for i < kRowBlock, j < kPanelWidth, as
// micro_kernel computes it. rows[j]: K 16-bit values of `dtype` (point a column that is not
// wanted at any valid row; its sums are then ignored by the caller). The rows are converted a
// block of k at a time into floats that stay in L1, and the micro-kernel's loop runs on them
// with its accumulators carried from block to block.
inline void row_kernel(const float* const a[kRowBlock], const uint16_t* const rows[kPanelWidth], DType dtype,
                       int64_t K, float acc[kRowBlock][kPanelWidth]) {
  constexpr int64_t kBlock = 256;  // k per converted block: 8 KiB of floats
  float block[kPanelWidth][kBlock];  // row j's k0 .. k0 + n, converted (vectorised: contiguous)
  Float4 c[kRowBlock][kPanelVectors] = {};
  const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
  for (int64_t k0 = 0; k0 < K; k0 += kBlock) {
    const int64_t n = std::min(kBlock, K - k0);
    for (int j = 0; j < kPanelWidth; ++j) {
      const uint16_t* src = rows[j] + k0;
      if (dtype == DType::bf16)
        for (int64_t k = 0; k < n; ++k) block[j][k] = bf16_to_float(src[k]);
      else
        for (int64_t k = 0; k < n; ++k) block[j][k] = fp16_to_float(src[k]);
    }
    for (int64_t k = 0; k < n; ++k) {
      Float4 b[kPanelVectors];
      for (int v = 0; v < kPanelVectors; ++v)
        b[v] = Float4{block[4 * v][k], block[4 * v + 1][k], block[4 * v + 2][k], block[4 * v + 3][k]};
      const float x[kRowBlock] = {a0[k0 + k], a1[k0 + k], a2[k0 + k], a3[k0 + k]};
      for (int i = 0; i < kRowBlock; ++i)
        for (int v = 0; v < kPanelVectors; ++v) c[i][v] += x[i] * b[v];
    }
  }
  for (int i = 0; i < kRowBlock; ++i)
    for (int j = 0; j < kPanelWidth; ++j) acc[i][j] = c[i][j / 4][j % 4];
}

}  // namespace moebench::cpu
