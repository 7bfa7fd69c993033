// The bf16 instantiations of GroupedGemm with the gated activation in the epilogue (see
// grouped_gemm_kernel.cuh), in their own file so the slow CUTLASS compiles run in parallel.
#include "moe/cuda/grouped_gemm_kernel.cuh"

namespace moebench {

GroupedGemm::Kernels make_gated_grouped_gemm_kernels_bf16(Backend& backend, int groups, int64_t n, int64_t k,
                                                          Activation activation) {
  return grouped_gemm_detail::make_typed<cutlass::bfloat16_t, grouped_gemm_detail::Output::gated>(
      backend, groups, n, k, activation);
}

}  // namespace moebench
