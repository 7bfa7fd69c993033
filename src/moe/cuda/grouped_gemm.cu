#include "moe/cuda/grouped_gemm.cuh"

#include <string>

#include "core/errors.hpp"

namespace moebench {

std::unique_ptr<GroupedGemm::Kernel> make_grouped_gemm_kernel_bf16(Backend& backend, int groups, int64_t n, int64_t k);
std::unique_ptr<GroupedGemm::Kernel> make_grouped_gemm_kernel_fp16(Backend& backend, int groups, int64_t n, int64_t k);

GroupedGemm::GroupedGemm(Backend& backend, DType dtype, int num_groups, int64_t n, int64_t k) {
  if (n % 8 != 0 || k % 8 != 0)
    throw InputError("the CUTLASS grouped GEMM needs hidden and intermediate sizes that are multiples of 8 (got N=" +
                     std::to_string(n) + ", K=" + std::to_string(k) + "); use --impl naive");
  if (dtype == DType::bf16)
    kernel_ = make_grouped_gemm_kernel_bf16(backend, num_groups, n, k);
  else if (dtype == DType::fp16)
    kernel_ = make_grouped_gemm_kernel_fp16(backend, num_groups, n, k);
  else
    throw InputError("the CUTLASS grouped GEMM runs bf16 or fp16");
}

GroupedGemm::~GroupedGemm() = default;

void GroupedGemm::run(const void* a, const void* b, void* d, const int32_t* offsets, cudaStream_t stream) {
  kernel_->run(a, b, d, offsets, stream);
}

}  // namespace moebench
