#pragma once
// The row order of an expert's gate+up weights that the gated grouped GEMM epilogue reads
// (gated_epilogue.cuh says why): interleave_gate_up() writes it, the epilogue stores by it.
// Host code (the unit tests) can read it too. In each block of 128 product columns (64 outputs), column 8v + 2q + c is the gate (v even)
// or up (v odd) column of output 16q + (v & ~1) + c of the block: thread q of a GMMA quad holds
// both halves of 16 consecutive outputs.
#include <cstdint>

#include "core/host_device.hpp"

namespace moebench {

struct GatedColumn {
  int64_t output;  // the activated column this product column feeds
  bool up;         // the up half (else the gate)
};

MB_HD constexpr GatedColumn gated_column(int64_t n) {
  const int64_t in_block = n % 128, v = in_block / 8;
  return {n / 128 * 64 + in_block % 8 / 2 * 16 + (v & ~int64_t(1)) + in_block % 2, v % 2 == 1};
}

}  // namespace moebench
