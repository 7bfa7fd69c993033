#pragma once
// Arithmetic for sizes (elements, bytes, FLOPs) built from what users type.
//
// A shape from a flag or a config.json can multiply past int64: a wrapped product is negative
// or small and then "fits". These operations saturate at kSizeSaturated instead, so a size is
// never smaller than the truth, and a check against kMaxMachineBytes refuses it up front.
// 2^50 bytes (1 PiB) is more than the memory of any single machine moebench runs on.
#include <cstdint>
#include <limits>

namespace moebench {

constexpr int64_t kSizeSaturated = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxMachineBytes = int64_t(1) << 50;

// a * b for a, b >= 0; kSizeSaturated when the product does not fit.
constexpr int64_t size_mul(int64_t a, int64_t b) {
  int64_t out = 0;
  return __builtin_mul_overflow(a, b, &out) ? kSizeSaturated : out;
}
template <typename... Rest>
constexpr int64_t size_mul(int64_t a, int64_t b, Rest... rest) {
  return size_mul(size_mul(a, b), int64_t(rest)...);
}

// a + b for a, b >= 0; kSizeSaturated when the sum does not fit.
constexpr int64_t size_add(int64_t a, int64_t b) {
  int64_t out = 0;
  return __builtin_add_overflow(a, b, &out) ? kSizeSaturated : out;
}
template <typename... Rest>
constexpr int64_t size_add(int64_t a, int64_t b, Rest... rest) {
  return size_add(size_add(a, b), int64_t(rest)...);
}

constexpr bool beyond_any_machine(int64_t bytes) { return bytes > kMaxMachineBytes; }

}  // namespace moebench
