#pragma once
// NVTX ranges in the "moebench" domain, so that Nsight Systems and Nsight Compute users see
// moebench's phases (prepare, verify, warm-up, each timed iteration) on their timelines and
// can filter kernels by them (ncu --nvtx --nvtx-include "moebench@verify/").
//
// NVTX 3 is header-only (CUDA toolkit); without a tool attached a range costs a function-
// pointer check. A build without the NVTX headers (a CPU-only machine without the toolkit)
// has no tool to see the ranges, and the calls do nothing.
#include <string>

namespace moebench {

void nvtx_push(const std::string& name);
void nvtx_pop();

// A range for the lifetime of a scope.
class NvtxRange {
 public:
  explicit NvtxRange(const std::string& name) { nvtx_push(name); }
  ~NvtxRange() { nvtx_pop(); }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace moebench
