#pragma once
// What CUDA code needs from the CUDA backend beyond the Backend interface: its one stream,
// on which every kernel, copy and timer of a run is ordered, and its cuBLAS handle.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "backend/backend.hpp"

namespace moebench {

// Both throw InputError if `backend` is not the CUDA backend.
cudaStream_t cuda_stream(Backend& backend);
cublasHandle_t cublas_handle(Backend& backend);
// Multiprocessors of the backend's device (queried once).
int cuda_sm_count(Backend& backend);

}  // namespace moebench
