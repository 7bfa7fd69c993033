// The fp16 instantiation of GroupedGemm (see grouped_gemm_kernel.cuh), in its own file so
// the two slow CUTLASS compiles run in parallel.
#include "moe/cuda/grouped_gemm_kernel.cuh"

namespace moebench {

std::unique_ptr<GroupedGemm::Kernel> make_grouped_gemm_kernel_fp16(Backend& backend, int groups, int64_t n,
                                                                   int64_t k) {
  return grouped_gemm_detail::make_typed<cutlass::half_t>(backend, groups, n, k);
}

}  // namespace moebench
