#pragma once
// The backend interface: where buffers live, how work is ordered and how it is timed.
//
// Like ggml's backends: the CPU and CUDA implementations sit behind one small interface, and
// the runner, the verifier and every MoE implementation talk to it rather than to CUDA.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.hpp"

namespace moebench {

enum class BackendKind { automatic, cpu, cuda };
BackendKind parse_backend_kind(const std::string& text);  // auto | cpu | cuda; throws InputError
const char* backend_kind_name(BackendKind kind);

struct DeviceInfo {
  std::string name;              // "NVIDIA H100 80GB HBM3" or the CPU model
  bool is_gpu = false;
  int64_t total_memory_bytes = 0;
  int64_t free_memory_bytes = 0;
  int multiprocessors = 0;       // SMs on a GPU, hardware threads on the CPU
  int compute_capability = 0;    // 90 for sm_90; 0 on the CPU
  int64_t l2_bytes = 0;
  std::string driver_version;    // GPU only
  std::string runtime_version;
};

// Times one region of work enqueued on the backend's stream (CUDA events on the GPU).
class IntervalTimer {
 public:
  virtual ~IntervalTimer() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  // Milliseconds between start() and stop(); waits for the work to finish.
  virtual double elapsed_ms() = 0;
};

// Work recorded once and replayed many times with one launch (a CUDA graph on the GPU):
// what small-batch decode uses, where launching kernels one by one costs more than they run.
class RecordedWork {
 public:
  virtual ~RecordedWork() = default;
  virtual void replay() = 0;  // enqueues the recorded work on the backend's stream
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  virtual DeviceInfo device_info() const = 0;

  virtual void* allocate(size_t bytes) = 0;  // throws RuntimeFailure(OOM) when it cannot
  virtual void release(void* ptr) = 0;
  virtual void copy_to_device(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void fill_bytes(void* dst, uint8_t value, size_t bytes) = 0;
  // Fills `count` elements of `dtype` with synthetic values (core/synthetic.hpp), rounded to
  // the dtype: synth_value(seed, stream, first_index + i, scale).
  virtual void fill_synthetic(void* dst, DType dtype, size_t count, uint64_t seed, uint64_t stream,
                              uint64_t first_index, float scale) = 0;
  // fill_synthetic of a block of a larger tensor: `rows` x `cols` elements, contiguous at dst,
  // element (r, c) being synth_value(seed, stream, first_index + r * source_cols + c, scale): the
  // columns of some rows of a tensor source_cols wide (a tensor-parallel rank's slice of a matrix).
  virtual void fill_synthetic_columns(void* dst, DType dtype, size_t rows, size_t cols, size_t source_cols,
                                      uint64_t seed, uint64_t stream, uint64_t first_index, float scale) = 0;
  // Copies `rows` rows of `width` bytes within backend memory, from src (rows src_pitch bytes
  // apart) to dst (rows dst_pitch bytes apart). Enqueued like a kernel, so it can be recorded.
  virtual void copy_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width,
                       size_t rows) = 0;
  virtual void synchronize() = 0;
  virtual std::unique_ptr<IntervalTimer> make_timer() = 0;
  // Records what `work` enqueues, without running it; nullptr where the backend cannot
  // record (the CPU runs work as it is called). `work` must not synchronise with the host.
  virtual std::unique_ptr<RecordedWork> record(const std::function<void()>& work) {
    (void)work;
    return nullptr;
  }

  // Peak bytes allocated through this backend since the last reset.
  virtual int64_t peak_allocated_bytes() const = 0;
  virtual void reset_peak_allocated() = 0;
};

// Whether this build has CUDA and a GPU is visible.
bool cuda_available();
// GPUs visible to this process (0 without CUDA).
int cuda_device_count();
// Makes GPU `device` the one a CUDA backend made afterwards by this thread drives: one GPU per
// local rank. InputError where it is not visible.
void select_cuda_device(int device);
// `automatic` picks CUDA when available, else the CPU. Throws InputError for `cuda` without one.
std::unique_ptr<Backend> make_backend(BackendKind kind);

// Owning handle for a backend allocation.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(Backend& backend, size_t bytes)
      : backend_(&backend), ptr_(bytes ? backend.allocate(bytes) : nullptr), bytes_(bytes) {}
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      backend_ = o.backend_;
      ptr_ = o.ptr_;
      bytes_ = o.bytes_;
      o.ptr_ = nullptr;
      o.bytes_ = 0;
    }
    return *this;
  }
  ~DeviceBuffer() { reset(); }
  void reset() {
    if (ptr_) backend_->release(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  void* get() const { return ptr_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  Backend* backend_ = nullptr;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace moebench
