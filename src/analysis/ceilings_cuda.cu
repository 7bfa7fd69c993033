// The GPU ceilings, measured in the run that uses them (DESIGN.md, Benchmark method).
#include <algorithm>
#include <vector>

#include <string>

#include "analysis/ceilings.hpp"
#include "backend/cuda_backend.hpp"
#include "backend/cuda_check.hpp"
#include "core/synthetic.hpp"

namespace moebench {

namespace {

constexpr int kWarmup = 3;
constexpr int kRepeats = 10;

template <typename Fn>
double median_ms(Backend& backend, Fn&& body) {
  for (int i = 0; i < kWarmup; ++i) body();
  std::vector<std::unique_ptr<IntervalTimer>> timers;
  for (int i = 0; i < kRepeats; ++i) {
    timers.push_back(backend.make_timer());
    timers.back()->start();
    body();
    timers.back()->stop();
  }
  std::vector<double> ms;
  for (auto& t : timers) ms.push_back(t->elapsed_ms());
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

Ceilings measure_cuda_ceilings(Backend& backend) {
  Ceilings c;
  cudaStream_t stream = cuda_stream(backend);

  // Copy: 2 GiB device to device; bytes read plus bytes written. Source holds random data.
  {
    const size_t bytes = size_t(2) << 30;
    DeviceBuffer src(backend, bytes), dst(backend, bytes);
    backend.fill_synthetic(src.get(), DType::bf16, bytes / 2, 1, uint64_t(SynthStream::dense_weights), 0, 1.0f);
    double ms = median_ms(backend, [&] {
      MB_CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, stream));
    });
    c.copy_gbps = 2.0 * double(bytes) / (ms * 1e-3) / 1e9;
    c.copy_method = "cudaMemcpy D2D 2 GiB, read+write, median of " + std::to_string(kRepeats);
  }

  // GEMM: 8192^3 bf16 through cuBLAS, fp32 accumulation, on random data (never zeros).
  {
    const int n = 8192;
    const size_t elems = size_t(n) * n;
    DeviceBuffer a(backend, elems * 2), b(backend, elems * 2), d(backend, elems * 2);
    backend.fill_synthetic(a.get(), DType::bf16, elems, 2, uint64_t(SynthStream::dense_weights), 0, 1.0f);
    backend.fill_synthetic(b.get(), DType::bf16, elems, 3, uint64_t(SynthStream::dense_weights), 0, 1.0f);
    cublasHandle_t handle = cublas_handle(backend);
    const float alpha = 1.0f, beta = 0.0f;
    double ms = median_ms(backend, [&] {
      MB_CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &alpha, a.get(), CUDA_R_16BF, n,
                                   b.get(), CUDA_R_16BF, n, &beta, d.get(), CUDA_R_16BF, n, CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT));
    });
    c.gemm_tflops = 2.0 * double(n) * n * n / (ms * 1e-3) / 1e12;
    c.gemm_method = "cuBLAS bf16 8192^3, fp32 accumulate, random data, median of " + std::to_string(kRepeats);
  }
  backend.synchronize();
  return c;
}

}  // namespace moebench
