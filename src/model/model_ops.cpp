#include "model/model_ops.hpp"

namespace moebench {

std::unique_ptr<ModelOps> make_cpu_model_ops(DType dtype);
#ifdef MOEBENCH_WITH_CUDA
std::unique_ptr<ModelOps> make_cuda_model_ops(Backend& backend, DType dtype, const AttentionDims& max_dims);
#endif

std::unique_ptr<ModelOps> make_model_ops(Backend& backend, DType dtype, const AttentionDims& max_dims) {
#ifdef MOEBENCH_WITH_CUDA
  if (backend.kind() == BackendKind::cuda) return make_cuda_model_ops(backend, dtype, max_dims);
#endif
  (void)backend;
  (void)max_dims;
  return make_cpu_model_ops(dtype);
}

}  // namespace moebench
