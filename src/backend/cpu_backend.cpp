// The CPU backend: host memory, synchronous execution, steady_clock timing.
//
// Large buffers are mapped without reserving swap (MAP_NORESERVE): a page costs memory only
// once written, so a layer whose experts are filled on first use (moe/layer_weights.hpp) holds
// only what its tokens read, and a large layer can be allocated on a machine smaller than it.
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <unistd.h>

#include <fmt/format.h>

#include "backend/backend.hpp"
#include "core/errors.hpp"
#include "core/parallel.hpp"
#include "core/synthetic.hpp"

namespace moebench {

namespace {

// Buffers from this size on are mapped pages (page-aligned), smaller ones come from the heap.
constexpr size_t kMappedBytes = size_t(1) << 20;

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "CPU";
}

int64_t meminfo_bytes(const char* key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  int64_t kib = 0;
  std::string unit;
  while (in >> name >> kib >> unit) {
    if (name == key) return kib * 1024;
  }
  return 0;
}

class CpuTimer : public IntervalTimer {
 public:
  void start() override { start_ = std::chrono::steady_clock::now(); }
  void stop() override { stop_ = std::chrono::steady_clock::now(); }
  double elapsed_ms() override {
    return std::chrono::duration<double, std::milli>(stop_ - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_, stop_;
};

class CpuBackend : public Backend {
 public:
  BackendKind kind() const override { return BackendKind::cpu; }

  DeviceInfo device_info() const override {
    DeviceInfo info;
    info.name = cpu_model_name();
    info.is_gpu = false;
    info.total_memory_bytes = meminfo_bytes("MemTotal:");
    info.free_memory_bytes = meminfo_bytes("MemAvailable:");
    info.multiprocessors = hardware_threads();
    return info;
  }

  void* allocate(size_t bytes) override {
    void* p = nullptr;
    if (bytes >= kMappedBytes) {
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) p = nullptr;
    } else {
      p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    }
    if (!p)
      throw RuntimeFailure(FailureKind::OOM,
                           fmt::format("host allocation of {} bytes failed", bytes));
    std::lock_guard<std::mutex> lock(mutex_);
    sizes_[p] = bytes;
    current_ += int64_t(bytes);
    peak_ = std::max(peak_, current_);
    return p;
  }

  void release(void* ptr) override {
    if (!ptr) return;
    size_t bytes = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = sizes_.find(ptr);
      if (it != sizes_.end()) {
        bytes = it->second;
        current_ -= int64_t(it->second);
        sizes_.erase(it);
      }
    }
    if (bytes >= kMappedBytes)
      munmap(ptr, bytes);
    else
      std::free(ptr);
  }

  void copy_to_device(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void fill_bytes(void* dst, uint8_t value, size_t bytes) override { std::memset(dst, value, bytes); }

  void fill_synthetic(void* dst, DType dtype, size_t count, uint64_t seed, uint64_t stream,
                      uint64_t first_index, float scale) override {
    if (dtype == DType::fp8)
      throw InputError("fp8 synthetic tensors are not supported on the CPU backend; use bf16 or fp16");
    // synth_value's arithmetic with its per-tensor hash taken out of the loop and one loop per
    // dtype, so that the compiler sees straight-line work: the same values, bit for bit.
    const uint64_t key = synth_key(seed, stream);
    parallel_for(int64_t(count), [&](int64_t begin, int64_t end) {
      const uint64_t base = first_index + uint64_t(begin);
      const int64_t n = end - begin;
      if (dtype == DType::fp32) {
        float* out = static_cast<float*>(dst) + begin;
        for (int64_t i = 0; i < n; ++i) out[i] = synth_unit_keyed(key, base + uint64_t(i)) * scale;
      } else if (dtype == DType::bf16) {
        uint16_t* out = static_cast<uint16_t*>(dst) + begin;
        for (int64_t i = 0; i < n; ++i) out[i] = float_to_bf16(synth_unit_keyed(key, base + uint64_t(i)) * scale);
      } else {
        uint16_t* out = static_cast<uint16_t*>(dst) + begin;
        for (int64_t i = 0; i < n; ++i) out[i] = float_to_fp16(synth_unit_keyed(key, base + uint64_t(i)) * scale);
      }
    }, 1 << 16);
  }

  void fill_synthetic_columns(void* dst, DType dtype, size_t rows, size_t cols, size_t source_cols, uint64_t seed,
                              uint64_t stream, uint64_t first_index, float scale) override {
    const size_t elem = size_t(dtype_bytes(dtype));
    for (size_t r = 0; r < rows; ++r)
      fill_synthetic(static_cast<char*>(dst) + r * cols * elem, dtype, cols, seed, stream,
                     first_index + uint64_t(r * source_cols), scale);
  }

  void copy_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width, size_t rows) override {
    for (size_t r = 0; r < rows; ++r)
      std::memmove(static_cast<char*>(dst) + r * dst_pitch, static_cast<const char*>(src) + r * src_pitch, width);
  }

  void synchronize() override {}
  std::unique_ptr<IntervalTimer> make_timer() override { return std::make_unique<CpuTimer>(); }

  int64_t peak_allocated_bytes() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return peak_;
  }
  void reset_peak_allocated() override {
    std::lock_guard<std::mutex> lock(mutex_);
    peak_ = current_;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<void*, size_t> sizes_;
  int64_t current_ = 0;
  int64_t peak_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace moebench
