// The CUDA backend: device memory, one non-blocking stream, CUDA-event timing.
#include <algorithm>
#include <mutex>
#include <unordered_map>

#include <string>

#include "backend/cuda_backend.hpp"
#include "backend/cuda_check.hpp"
#include "core/synthetic.hpp"

namespace moebench {

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
  std::string where = std::string(file) + ":" + std::to_string(line) + ": " + call + ": " +
                      cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ")";
  if (err == cudaErrorMemoryAllocation) throw RuntimeFailure(FailureKind::OOM, where);
  throw RuntimeFailure(FailureKind::CudaError, where);
}

[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  std::string where = std::string(file) + ":" + std::to_string(line) + ": " + call + ": " +
                      cublasGetStatusString(status);
  if (status == CUBLAS_STATUS_ALLOC_FAILED) throw RuntimeFailure(FailureKind::OOM, where);
  throw RuntimeFailure(FailureKind::CudaError, where);
}

namespace {

// Element i of `count` (rows of `cols`) is element (i / cols) * source_cols + i % cols of the
// synthetic tensor from first_index: the whole range when cols == source_cols.
__global__ void fill_synthetic_kernel(void* dst, DType dtype, size_t count, size_t cols, size_t source_cols,
                                      uint64_t seed, uint64_t stream, uint64_t first_index, float scale) {
  size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const size_t source = cols == source_cols ? i : i / cols * source_cols + i % cols;
    float v = synth_value(seed, stream, first_index + source, scale);
    if (dtype == DType::fp32)
      static_cast<float*>(dst)[i] = v;
    else
      static_cast<uint16_t*>(dst)[i] = float_to_half_bits(v, dtype);
  }
}

class CudaTimer : public IntervalTimer {
 public:
  explicit CudaTimer(cudaStream_t stream) : stream_(stream) {
    MB_CUDA_CHECK(cudaEventCreate(&start_));
    MB_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~CudaTimer() override {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  void start() override { MB_CUDA_CHECK(cudaEventRecord(start_, stream_)); }
  void stop() override { MB_CUDA_CHECK(cudaEventRecord(stop_, stream_)); }
  double elapsed_ms() override {
    MB_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0;
    MB_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return double(ms);
  }

 private:
  cudaStream_t stream_;
  cudaEvent_t start_{}, stop_{};
};

class CudaGraph : public RecordedWork {
 public:
  CudaGraph(cudaStream_t stream, cudaGraph_t graph) : stream_(stream), graph_(graph) {
    MB_CUDA_CHECK(cudaGraphInstantiate(&exec_, graph_, 0));
  }
  ~CudaGraph() override {
    if (exec_) cudaGraphExecDestroy(exec_);
    cudaGraphDestroy(graph_);
  }
  void replay() override { MB_CUDA_CHECK(cudaGraphLaunch(exec_, stream_)); }

 private:
  cudaStream_t stream_;
  cudaGraph_t graph_;
  cudaGraphExec_t exec_{};
};

class CudaBackend : public Backend {
 public:
  CudaBackend() {
    MB_CUDA_CHECK(cudaGetDevice(&device_));
    MB_CUDA_CHECK(cudaGetDeviceProperties(&props_, device_));
    MB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    MB_CUBLAS_CHECK(cublasCreate(&cublas_));
    MB_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    cublasDestroy(cublas_);
    cudaStreamDestroy(stream_);
  }

  BackendKind kind() const override { return BackendKind::cuda; }

  DeviceInfo device_info() const override {
    DeviceInfo info;
    info.name = props_.name;
    info.is_gpu = true;
    size_t free_bytes = 0, total_bytes = 0;
    MB_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    info.total_memory_bytes = int64_t(total_bytes);
    info.free_memory_bytes = int64_t(free_bytes);
    info.multiprocessors = props_.multiProcessorCount;
    info.compute_capability = props_.major * 10 + props_.minor;
    info.l2_bytes = props_.l2CacheSize;
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    info.driver_version = "CUDA " + std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10);
    info.runtime_version = std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10);
    return info;
  }

  void* allocate(size_t bytes) override {
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, std::max<size_t>(bytes, 1));
    if (err != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free allocation error
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      throw RuntimeFailure(err == cudaErrorMemoryAllocation ? FailureKind::OOM : FailureKind::CudaError,
                           "cudaMalloc of " + std::to_string(bytes) + " bytes failed (" +
                               cudaGetErrorString(err) + "): " + std::to_string(free_bytes) + " bytes free of " +
                               std::to_string(total_bytes));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    sizes_[p] = bytes;
    current_ += int64_t(bytes);
    peak_ = std::max(peak_, current_);
    return p;
  }

  void release(void* ptr) override {
    if (!ptr) return;
    // Work still queued may use the buffer: finish it first.
    cudaStreamSynchronize(stream_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = sizes_.find(ptr);
      if (it != sizes_.end()) {
        current_ -= int64_t(it->second);
        sizes_.erase(it);
      }
    }
    cudaFree(ptr);
  }

  void copy_to_device(void* dst, const void* src, size_t bytes) override {
    MB_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
    MB_CUDA_CHECK(cudaStreamSynchronize(stream_));  // src is pageable and may go away
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    MB_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    MB_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void fill_bytes(void* dst, uint8_t value, size_t bytes) override {
    MB_CUDA_CHECK(cudaMemsetAsync(dst, value, bytes, stream_));
  }
  void fill_synthetic(void* dst, DType dtype, size_t count, uint64_t seed, uint64_t stream, uint64_t first_index,
                      float scale) override {
    if (dtype == DType::fp8) throw InputError("fp8 synthetic tensors are not supported yet; use bf16 or fp16");
    fill_synthetic_columns(dst, dtype, 1, count, count, seed, stream, first_index, scale);
  }
  void fill_synthetic_columns(void* dst, DType dtype, size_t rows, size_t cols, size_t source_cols, uint64_t seed,
                              uint64_t stream, uint64_t first_index, float scale) override {
    if (dtype == DType::fp8) throw InputError("fp8 synthetic tensors are not supported yet; use bf16 or fp16");
    const size_t count = rows * cols;
    if (count == 0) return;
    int blocks = int(std::min<size_t>((count + 255) / 256, size_t(props_.multiProcessorCount) * 32));
    fill_synthetic_kernel<<<blocks, 256, 0, stream_>>>(dst, dtype, count, cols, source_cols, seed, stream, first_index,
                                                       scale);
    MB_CUDA_CHECK_LAUNCH();
  }
  void copy_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width, size_t rows) override {
    if (width == 0 || rows == 0) return;
    MB_CUDA_CHECK(
        cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, width, rows, cudaMemcpyDeviceToDevice, stream_));
  }
  void synchronize() override { MB_CUDA_CHECK(cudaStreamSynchronize(stream_)); }
  std::unique_ptr<IntervalTimer> make_timer() override { return std::make_unique<CudaTimer>(stream_); }

  std::unique_ptr<RecordedWork> record(const std::function<void()>& work) override {
    MB_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    try {
      work();
    } catch (...) {
      cudaGraph_t broken = nullptr;
      cudaStreamEndCapture(stream_, &broken);
      if (broken) cudaGraphDestroy(broken);
      cudaGetLastError();
      throw;
    }
    cudaGraph_t graph = nullptr;
    MB_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
    return std::make_unique<CudaGraph>(stream_, graph);
  }

  int64_t peak_allocated_bytes() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return peak_;
  }
  void reset_peak_allocated() override {
    std::lock_guard<std::mutex> lock(mutex_);
    peak_ = current_;
  }

  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas() const { return cublas_; }
  int sm_count() const { return props_.multiProcessorCount; }

 private:
  int device_ = 0;
  cudaDeviceProp props_{};
  cudaStream_t stream_{};
  cublasHandle_t cublas_{};
  mutable std::mutex mutex_;
  std::unordered_map<void*, size_t> sizes_;
  int64_t current_ = 0;
  int64_t peak_ = 0;
};

CudaBackend& as_cuda(Backend& backend) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  if (!cuda) throw InputError("this implementation needs the CUDA backend (--backend cuda)");
  return *cuda;
}

}  // namespace

int cuda_visible_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

bool cuda_device_visible() { return cuda_visible_device_count() > 0; }

void cuda_set_device(int device) { MB_CUDA_CHECK(cudaSetDevice(device)); }

std::unique_ptr<Backend> make_cuda_backend() { return std::make_unique<CudaBackend>(); }

cudaStream_t cuda_stream(Backend& backend) { return as_cuda(backend).stream(); }
cublasHandle_t cublas_handle(Backend& backend) { return as_cuda(backend).cublas(); }
int cuda_sm_count(Backend& backend) { return as_cuda(backend).sm_count(); }

}  // namespace moebench
