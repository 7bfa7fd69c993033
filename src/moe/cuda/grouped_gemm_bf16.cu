// The bf16 instantiations of GroupedGemm (see grouped_gemm_kernel.cuh), in their own file so
// the slow CUTLASS compiles of the two dtypes run in parallel.
#include "moe/cuda/grouped_gemm_kernel.cuh"

namespace moebench {

GroupedGemm::Kernels make_grouped_gemm_kernels_bf16(Backend& backend, int groups, int64_t n, int64_t k) {
  return grouped_gemm_detail::make_typed<cutlass::bfloat16_t, grouped_gemm_detail::Output::product>(
      backend, groups, n, k, Activation::silu);  // the activation is unused by the product
}

}  // namespace moebench
