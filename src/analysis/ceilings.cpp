#include "analysis/ceilings.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "core/parallel.hpp"

namespace moebench {

#ifdef MOEBENCH_WITH_CUDA
Ceilings measure_cuda_ceilings(Backend& backend);
#endif

namespace {

// memcpy over 256 MiB split across the hardware threads; median of 5 after one warm-up.
double measure_host_copy_gbps() {
  const size_t bytes = size_t(256) << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  std::vector<double> gbps;
  for (int rep = 0; rep < 6; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    parallel_for(int64_t(bytes), [&](int64_t b, int64_t e) {
      std::memcpy(dst.data() + b, src.data() + b, size_t(e - b));
    }, int64_t(16) << 20);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep > 0) gbps.push_back(2.0 * double(bytes) / s / 1e9);
  }
  std::sort(gbps.begin(), gbps.end());
  return gbps[gbps.size() / 2];
}

}  // namespace

Ceilings measure_ceilings(Backend& backend) {
#ifdef MOEBENCH_WITH_CUDA
  if (backend.kind() == BackendKind::cuda) return measure_cuda_ceilings(backend);
#endif
  (void)backend;
  Ceilings c;
  c.copy_gbps = measure_host_copy_gbps();
  c.copy_method = "host memcpy, 256 MiB, all threads, median of 5";
  c.gemm_method = "not measured on the CPU";
  return c;
}

}  // namespace moebench
