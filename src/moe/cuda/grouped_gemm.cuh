#pragma once
// Grouped GEMM for expert layers on Hopper: CUTLASS's ptr-array TMA warp-specialised kernel.
//
// For every group g (an expert): D[r] = A[r] . B_g^T for the rows r in [offsets[g],
// offsets[g+1]). A [rows][K] and D [rows][N] are row-major, B is [G][N][K] (K-contiguous, the
// canonical weight layout). Row counts never travel to the host: a setup kernel turns the
// device offsets into CUTLASS's problem shapes and pointer arrays, so run() is asynchronous
// and can be captured in a CUDA graph. bf16 or fp16, fp32 accumulation.
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>

#include "backend/backend.hpp"
#include "core/dtype.hpp"

namespace moebench {

class GroupedGemm {
 public:
  // Throws InputError when N or K is not a multiple of 8 (TMA needs 16-byte aligned rows).
  GroupedGemm(Backend& backend, DType dtype, int num_groups, int64_t n, int64_t k);
  ~GroupedGemm();
  GroupedGemm(const GroupedGemm&) = delete;
  GroupedGemm& operator=(const GroupedGemm&) = delete;

  void run(const void* a, const void* b, void* d, const int32_t* offsets, cudaStream_t stream);

  // The CUTLASS instantiation for one dtype (grouped_gemm_{bf16,fp16}.cu).
  struct Kernel {
    virtual ~Kernel() = default;
    virtual void run(const void* a, const void* b, void* d, const int32_t* offsets, cudaStream_t stream) = 0;
  };

 private:
  std::unique_ptr<Kernel> kernel_;
};

}  // namespace moebench
