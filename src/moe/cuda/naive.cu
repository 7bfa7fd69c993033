// `naive`: the vanilla baseline users know from eager PyTorch loops. After GPU routing and
// permutation it copies the per-expert token counts to the host (the one host
// synchronisation among our implementations, like `.nonzero()` in an eager loop, so it
// cannot be captured in a CUDA graph) and runs two cuBLAS GEMMs per expert with tokens.
#include <vector>

#include "backend/cuda_backend.hpp"
#include "backend/cuda_check.hpp"
#include "core/errors.hpp"
#include "moe/cuda/expert_kernels.cuh"
#include "moe/cuda/moe_stages.cuh"
#include "moe/moe_impl.hpp"

namespace moebench {

namespace {

class NaiveMoe : public MoeImpl {
 public:
  explicit NaiveMoe(Backend& backend) : backend_(backend) {}

  void prepare(const LayerSpec& spec, const LayerWeights& weights) override {
    if (spec.dtype != DType::bf16 && spec.dtype != DType::fp16)
      throw InputError("naive: --dtype must be bf16 or fp16");
    spec_ = spec;
    weights_ = weights;
    stages_ = std::make_unique<MoeStages>(backend_, spec, weights);
    MB_CUDA_CHECK(cudaMallocHost(&host_offsets_, size_t(spec.model.num_experts + 1) * sizeof(int32_t)));
  }

  // The host reads the expert counts before launching each expert's GEMM, as an eager
  // PyTorch loop does: the baseline cannot be recorded into a graph.
  bool recordable(int64_t) const override { return false; }

  ~NaiveMoe() override {
    if (host_offsets_) cudaFreeHost(host_offsets_);
  }

  void bind_weights(const LayerWeights& weights) override {
    weights_ = weights;
    stages_->bind_weights(weights);
  }

  void forward(const LayerArgs& args) override {
    const ModelConfig& m = spec_.model;
    const int64_t H = m.hidden_size, I = m.moe_intermediate_size;
    const size_t elem = size_t(dtype_bytes(spec_.dtype));
    cudaStream_t stream = stages_->stream();
    cublasHandle_t handle = cublas_handle(backend_);
    stages_->route_and_gather(args);
    MB_CUDA_CHECK(cudaMemcpyAsync(host_offsets_, stages_->permutation().offsets(),
                                  size_t(m.num_experts + 1) * sizeof(int32_t), cudaMemcpyDeviceToHost, stream));
    MB_CUDA_CHECK(cudaStreamSynchronize(stream));
    auto* rows = static_cast<const char*>(stages_->rows());
    auto* h = static_cast<char*>(stages_->gate_up_out());
    auto* act = static_cast<char*>(stages_->activated());
    auto* y = static_cast<char*>(stages_->expert_out());
    for (int e = 0; e < m.num_experts; ++e) {
      const int64_t begin = host_offsets_[e], count = host_offsets_[e + 1] - begin;
      if (count == 0) continue;
      const char* w13 = static_cast<const char*>(weights_.w13) + size_t(e) * size_t(2 * I * H) * elem;
      gemm_rows(handle, rows + size_t(begin * H) * elem, w13, h + size_t(begin * 2 * I) * elem, count, 2 * I, H,
                spec_.dtype);
    }
    launch_gated_activation(m.activation, h, args.num_tokens * m.top_k, I, spec_.dtype, act, stream);
    for (int e = 0; e < m.num_experts; ++e) {
      const int64_t begin = host_offsets_[e], count = host_offsets_[e + 1] - begin;
      if (count == 0) continue;
      const char* w2 = static_cast<const char*>(weights_.w2) + size_t(e) * size_t(H * I) * elem;
      gemm_rows(handle, act + size_t(begin * I) * elem, w2, y + size_t(begin * H) * elem, count, H, I, spec_.dtype);
    }
    stages_->shared_and_combine(args);
  }

 private:
  Backend& backend_;
  LayerSpec spec_;
  LayerWeights weights_;
  std::unique_ptr<MoeStages> stages_;
  int32_t* host_offsets_ = nullptr;
};

}  // namespace

std::unique_ptr<MoeImpl> make_cuda_naive(Backend& backend) { return std::make_unique<NaiveMoe>(backend); }

}  // namespace moebench
