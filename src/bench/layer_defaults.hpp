#pragma once
// The embedded default of `layer`, which `sweep` runs too when given no matrix: a real model on
// a GPU, seed 004's small config on the CPU, where a run of the whole default must stay under a
// minute on two cores.
#include <cstdint>
#include <vector>

namespace moebench {

inline constexpr const char* kLayerGpuDefaultModel = "qwen3-30b-a3b";
inline constexpr const char* kLayerCpuDefaultModel = "small";
inline const std::vector<int64_t> kLayerGpuDefaultTokens = {64, 512, 4096};
inline const std::vector<int64_t> kLayerCpuDefaultTokens = {32, 128};

}  // namespace moebench
