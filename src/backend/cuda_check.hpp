#pragma once
// Checks for CUDA runtime and cuBLAS calls: a failure becomes a RuntimeFailure naming the call,
// the place and the error, classified (OOM for allocation failures, CudaError otherwise).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "core/errors.hpp"

namespace moebench {

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line);

}  // namespace moebench

#define MB_CUDA_CHECK(call)                                                     \
  do {                                                                          \
    cudaError_t mb_err_ = (call);                                               \
    if (mb_err_ != cudaSuccess) ::moebench::throw_cuda_error(mb_err_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: launch-configuration errors surface here, not at the next sync.
#define MB_CUDA_CHECK_LAUNCH() MB_CUDA_CHECK(cudaGetLastError())

#define MB_CUBLAS_CHECK(call)                                                   \
  do {                                                                          \
    cublasStatus_t mb_st_ = (call);                                             \
    if (mb_st_ != CUBLAS_STATUS_SUCCESS) ::moebench::throw_cublas_error(mb_st_, #call, __FILE__, __LINE__); \
  } while (0)
