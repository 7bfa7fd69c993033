#pragma once
// Kernel launches with programmatic dependent launch (PDL, sm_90): a kernel launched with
// launch_chained() may be scheduled while the kernel before it on the stream is still running,
// and must call wait_for_prior_kernels() before it touches anything an earlier kernel writes
// or reads (every global write, every dependent read). allow_next_kernels() lets the next
// chained kernel launch now instead of at this kernel's exit; it never makes this kernel's
// writes visible early (the next kernel's wait still waits for this whole grid and its memory).
//
// In a decode step of a few microseconds per kernel the launch latency of each kernel is a
// large part of the time; chaining hides some of it, also inside captured CUDA graphs (stream
// capture turns the attribute into programmatic graph edges). Where to call
// allow_next_kernels(), measured on an H100 (qwen3-30b-a3b decode, batch 1): at the start of
// every kernel the whole chain launches ahead and fills the SMs with waiting blocks, and a step
// took 5.12 ms against 4.58 ms unchained; after each heavy kernel's main loop (tiny kernels at
// their start) it took 4.46 ms. So: tiny kernels allow at their start, streaming kernels after
// their main loop. The exception is a tiny kernel before one whose grid is exactly one wave of
// blocks (the skinny GEMM at 4 blocks per SM): blocks launched early find SMs still held by the
// tiny kernel's, do not fit, and make a second wave. The attention combine before the O
// projection therefore never allows (TPOT 3.31 -> 3.26 ms at batch 1).
//
// MOEBENCH_PDL=0 in the environment launches the same kernels without the attribute (the
// waits then return at once), for measuring what chaining is worth.
#include <cuda_runtime.h>

#include <utility>

#include "backend/cuda_check.hpp"

namespace moebench {

// Whether launch_chained() sets the PDL attribute: false when MOEBENCH_PDL=0.
bool chained_launches_enabled();

// The current device's SM count, for sizing grids to waves of blocks (read once per process).
int current_device_sm_count();

__device__ __forceinline__ void wait_for_prior_kernels() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void allow_next_kernels() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// kernel<<<grid, block, smem, stream>>>(args...) with the PDL attribute; checks the launch.
template <typename... Params, typename... Args>
void launch_chained(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                    Args&&... args) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = chained_launches_enabled() ? 1 : 0;
  MB_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...));
}

}  // namespace moebench
