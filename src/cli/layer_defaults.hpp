#pragma once
// The embedded default of `layer`, which `sweep` runs too when given no matrix: a real model on
// a GPU, seed 004's small config on the CPU, where a run of the whole default must stay under a
// minute on two cores.
#include <cstdint>
#include <vector>

namespace moebench::cli {

inline constexpr const char* kGpuDefaultModel = "qwen3-30b-a3b";
inline constexpr const char* kCpuDefaultModel = "small";
inline const std::vector<int64_t> kGpuDefaultTokens = {64, 512, 4096};
inline const std::vector<int64_t> kCpuDefaultTokens = {32, 128};

}  // namespace moebench::cli
