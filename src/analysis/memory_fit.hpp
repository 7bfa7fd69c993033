#pragma once
// Will it fit? The verdict against a GPU's memory, the largest batch that fits at a context,
// the fewest GPUs (tp / ep) that hold a run, and the pre-flight refusal the benchmark commands
// call before they allocate anything.
#include <cstdint>
#include <optional>
#include <string>

#include "analysis/memory_model.hpp"

namespace moebench {

// The memory one GPU offers, and where the figure came from (printed beside the verdict).
struct GpuMemory {
  int64_t bytes = 0;
  std::string source;
};

// Total memory of the visible GPU, or nothing without one. A hook rather than a CUDA call so
// that this library builds and tests without CUDA: the CLI passes one that asks the backend.
using GpuMemoryProbe = std::optional<GpuMemory> (*)();

// What a CPU-only build, or a machine without a GPU, assumes: an H100 80GB.
constexpr int64_t kDefaultGpuMemoryBytes = int64_t(80) << 30;

// --gpu-memory-gib when given (must be positive: InputError), else the probe's GPU, else the
// H100 default, each with its source stated.
GpuMemory resolve_gpu_memory(std::optional<double> gpu_memory_gib, GpuMemoryProbe probe);

// "needed 29.7 GiB vs available 80.0 GiB"
std::string needed_vs_available(int64_t needed_bytes, int64_t available_bytes);

// Throws InputError "<what> does not fit: needed X GiB vs available Y GiB<where>; <fix>" when
// `needed_bytes` exceeds `available_bytes`: the pre-flight check of `layer` and `model`.
void refuse_if_not_fitting(const std::string& what, int64_t needed_bytes, int64_t available_bytes,
                           const std::string& where, const std::string& fix);

// The largest batch size whose run fits in `available_bytes` at the request's context and
// layout; 0 when not even batch 1 fits.
int64_t largest_fitting_batch(const MemoryRequest& request, int64_t available_bytes);

struct LayoutFit {
  ParallelLayout layout;
  int64_t needed_bytes = 0;
};
// The fewest GPUs that hold the request at its batch and context: tp over the powers of two up
// to max(8, the request's tp) and the request's tp itself; at each tp the request's ep first
// (when valid there), then ep = 1, 2, 4, ... Layouts the model cannot be split over are
// skipped. Nothing when none fits.
std::optional<LayoutFit> smallest_fitting_layout(const MemoryRequest& request, int64_t available_bytes);

// Everything `moebench memory` reports about one request.
struct MemoryAssessment {
  MemoryRequest request;
  MemoryBreakdown breakdown;
  GpuMemory available;
  int64_t largest_batch = 0;                // at the request's context and layout; 0: none
  std::optional<LayoutFit> smallest_layout;  // at the request's batch and context
  bool fits() const { return breakdown.total_bytes() <= available.bytes; }
};
// Validates the request (InputError) and answers every question above.
MemoryAssessment assess_memory(const MemoryRequest& request, const GpuMemory& available);

}  // namespace moebench
