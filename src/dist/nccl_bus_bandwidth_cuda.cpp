// NCCL's all-reduce and all-to-all bus bandwidth over the visible GPUs, in one process
// (nccl_bus_bandwidth.hpp says how, and why so).
#include <cuda_runtime_api.h>
#include <nccl.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include <fmt/format.h>

#include "backend/cuda_check.hpp"
#include "core/errors.hpp"
#include "dist/nccl_bus_bandwidth.hpp"

namespace moebench {

namespace {

#define MB_NCCL_OK(call)                                                                                  \
  do {                                                                                                    \
    const ncclResult_t mb_nccl_ = (call);                                                                 \
    if (mb_nccl_ != ncclSuccess)                                                                          \
      throw RuntimeFailure(FailureKind::NcclError, fmt::format("{} failed: {}", #call, ncclGetErrorString(mb_nccl_))); \
  } while (0)

// The byte GPU `s` puts in its block for GPU `d` (never 0: recv starts zeroed).
uint8_t block_byte(int s, int d) { return uint8_t((s * 31 + d * 7) % 255 + 1); }

// One GPU's part: its communicator, stream, two buffers of the largest size and an event pair
// per timed iteration. Everything is released on every path.
struct Gpu {
  int device = 0;
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  void* send = nullptr;
  void* recv = nullptr;
  std::vector<cudaEvent_t> start, stop;
};

class Gpus {
 public:
  Gpus(int n, size_t bytes, int iters) : gpus_(static_cast<size_t>(n)) {
    for (int d = 0; d < n; ++d) {
      Gpu& g = gpus_[size_t(d)];
      g.device = d;
      MB_CUDA_CHECK(cudaSetDevice(d));
      MB_CUDA_CHECK(cudaStreamCreateWithFlags(&g.stream, cudaStreamNonBlocking));
      MB_CUDA_CHECK(cudaMalloc(&g.send, bytes));
      MB_CUDA_CHECK(cudaMalloc(&g.recv, bytes));
      for (int i = 0; i < iters; ++i) {
        g.start.emplace_back();
        MB_CUDA_CHECK(cudaEventCreate(&g.start.back()));
        g.stop.emplace_back();
        MB_CUDA_CHECK(cudaEventCreate(&g.stop.back()));
      }
    }
    std::vector<ncclComm_t> comms(static_cast<size_t>(n));
    std::vector<int> devices;
    for (int d = 0; d < n; ++d) devices.push_back(d);
    MB_NCCL_OK(ncclCommInitAll(comms.data(), n, devices.data()));
    for (int d = 0; d < n; ++d) gpus_[size_t(d)].comm = comms[size_t(d)];
  }
  ~Gpus() {
    for (Gpu& g : gpus_) {
      cudaSetDevice(g.device);
      if (g.stream) cudaStreamSynchronize(g.stream);
      if (g.comm) ncclCommDestroy(g.comm);
      for (cudaEvent_t e : g.start) cudaEventDestroy(e);
      for (cudaEvent_t e : g.stop) cudaEventDestroy(e);
      if (g.send) cudaFree(g.send);
      if (g.recv) cudaFree(g.recv);
      if (g.stream) cudaStreamDestroy(g.stream);
    }
  }
  Gpus(const Gpus&) = delete;
  Gpus& operator=(const Gpus&) = delete;

  std::vector<Gpu>& all() { return gpus_; }
  int size() const { return int(gpus_.size()); }

  void synchronize() {
    for (Gpu& g : gpus_) {
      MB_CUDA_CHECK(cudaSetDevice(g.device));
      MB_CUDA_CHECK(cudaStreamSynchronize(g.stream));
    }
  }

  // Warm-up, then `iters` timed iterations of `call` on every GPU in one NCCL group; the median
  // over iterations of the slowest GPU's time, in ms.
  double time_ms(const std::function<ncclResult_t(Gpu&)>& call, int warmup, int iters) {
    auto group = [&] {
      MB_NCCL_OK(ncclGroupStart());
      for (Gpu& g : gpus_) MB_NCCL_OK(call(g));
      MB_NCCL_OK(ncclGroupEnd());
    };
    for (int w = 0; w < warmup; ++w) group();
    for (int it = 0; it < iters; ++it) {
      for (Gpu& g : gpus_) {
        MB_CUDA_CHECK(cudaSetDevice(g.device));
        MB_CUDA_CHECK(cudaEventRecord(g.start[size_t(it)], g.stream));
      }
      group();
      for (Gpu& g : gpus_) {
        MB_CUDA_CHECK(cudaSetDevice(g.device));
        MB_CUDA_CHECK(cudaEventRecord(g.stop[size_t(it)], g.stream));
      }
    }
    synchronize();
    std::vector<double> ms;
    for (int it = 0; it < iters; ++it) {
      double slowest = 0;
      for (Gpu& g : gpus_) {
        float t = 0;
        MB_CUDA_CHECK(cudaEventElapsedTime(&t, g.start[size_t(it)], g.stop[size_t(it)]));
        slowest = std::max(slowest, double(t));
      }
      ms.push_back(slowest);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  }

 private:
  std::vector<Gpu> gpus_;
};

[[noreturn]] void wrong(const char* collective, int gpu, size_t size, size_t at, double got, double expected) {
  throw RuntimeFailure(FailureKind::InvalidConfig,
                       fmt::format("NCCL {} of {} bytes: GPU {} element {} is {:g}, expected {:g}", collective, size,
                                   gpu, at, got, expected));
}

size_t smallest_free_memory(int n) {
  size_t least = SIZE_MAX;
  for (int d = 0; d < n; ++d) {
    MB_CUDA_CHECK(cudaSetDevice(d));
    size_t free = 0, total = 0;
    MB_CUDA_CHECK(cudaMemGetInfo(&free, &total));
    least = std::min(least, free);
  }
  return least;
}

}  // namespace

int nccl_runtime_version() {
  int version = 0;
  MB_NCCL_OK(ncclGetVersion(&version));
  return version;
}

int nccl_compiled_version() { return NCCL_VERSION_CODE; }

NcclBusBandwidthReport measure_nccl_bus_bandwidth(const NcclBusBandwidthOptions& options) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    cudaGetLastError();
    throw RuntimeFailure(FailureKind::CudaError, "NCCL bus bandwidth: no GPU visible");
  }
  int current = 0;
  MB_CUDA_CHECK(cudaGetDevice(&current));
  setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/0);  // NVLink multicast stays off

  NcclBusBandwidthReport r;
  r.runtime_version = nccl_runtime_version();
  r.compiled_version = nccl_compiled_version();
  r.gpus = n;
  r.nvls = getenv("NCCL_NVLS_ENABLE");
  r.warmup = std::max(options.warmup, 0);
  r.iters = std::max(options.iters, 1);
  const std::vector<size_t> sizes = options.sizes.empty() ? nccl_default_sizes(smallest_free_memory(n)) : options.sizes;
  const size_t most = *std::max_element(sizes.begin(), sizes.end());
  {
    Gpus gpus(n, most, r.iters);

    // All-reduce: every GPU sends (rank + 1) everywhere; every element must come back n (n + 1) / 2.
    {
      std::vector<float> host(most / sizeof(float));
      for (Gpu& g : gpus.all()) {
        std::fill(host.begin(), host.end(), float(g.device + 1));
        MB_CUDA_CHECK(cudaSetDevice(g.device));
        MB_CUDA_CHECK(cudaMemcpy(g.send, host.data(), most / sizeof(float) * sizeof(float), cudaMemcpyHostToDevice));
        // A pageable copy may return before its DMA lands; the streams do not wait for it.
        MB_CUDA_CHECK(cudaDeviceSynchronize());
      }
    }
    const float sum = float(n) * float(n + 1) / 2.0f;
    for (size_t size : sizes) {
      const size_t bytes = collective_size(Collective::all_reduce, size, n, sizeof(float));
      const size_t count = bytes / sizeof(float);
      for (Gpu& g : gpus.all()) {
        MB_CUDA_CHECK(cudaSetDevice(g.device));
        MB_CUDA_CHECK(cudaMemsetAsync(g.recv, 0, bytes, g.stream));
      }
      const double ms = gpus.time_ms(
          [&](Gpu& g) { return ncclAllReduce(g.send, g.recv, count, ncclFloat, ncclSum, g.comm, g.stream); }, r.warmup,
          r.iters);
      std::vector<float> got(count);
      for (Gpu& g : gpus.all()) {
        MB_CUDA_CHECK(cudaSetDevice(g.device));
        MB_CUDA_CHECK(cudaMemcpy(got.data(), g.recv, bytes, cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < count; ++i)
          if (got[i] != sum) wrong("all_reduce", g.device, bytes, i, got[i], sum);
      }
      r.all_reduce.push_back(bus_bandwidth(Collective::all_reduce, n, bytes, ms));
    }

    // All-to-all: GPU s's block for GPU d holds block_byte(s, d) in every byte.
    for (size_t size : sizes) {
      const size_t bytes = collective_size(Collective::all_to_all, size, n, sizeof(float));
      const size_t block = bytes / size_t(n);
      for (Gpu& g : gpus.all()) {
        MB_CUDA_CHECK(cudaSetDevice(g.device));
        for (int d = 0; d < n; ++d)
          MB_CUDA_CHECK(cudaMemsetAsync(static_cast<char*>(g.send) + size_t(d) * block, block_byte(g.device, d), block,
                                        g.stream));
        MB_CUDA_CHECK(cudaMemsetAsync(g.recv, 0, bytes, g.stream));
      }
      const double ms = gpus.time_ms(
          [&](Gpu& g) { return ncclAlltoAll(g.send, g.recv, block / sizeof(float), ncclFloat, g.comm, g.stream); },
          r.warmup, r.iters);
      std::vector<uint8_t> got(bytes);
      for (Gpu& g : gpus.all()) {
        MB_CUDA_CHECK(cudaSetDevice(g.device));
        MB_CUDA_CHECK(cudaMemcpy(got.data(), g.recv, bytes, cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < bytes; ++i) {
          const uint8_t expected = block_byte(int(i / block), g.device);
          if (got[i] != expected) wrong("alltoall", g.device, bytes, i, got[i], expected);
        }
      }
      r.all_to_all.push_back(bus_bandwidth(Collective::all_to_all, n, bytes, ms));
    }
  }
  MB_CUDA_CHECK(cudaSetDevice(current));
  return r;
}

}  // namespace moebench
