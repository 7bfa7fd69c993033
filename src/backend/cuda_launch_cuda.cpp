#include <cstdlib>
#include <cstring>

#include "backend/cuda_launch.cuh"

namespace moebench {

bool chained_launches_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("MOEBENCH_PDL");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return enabled;
}

int current_device_sm_count() {
  static const int count = [] {
    int device = 0, sms = 0;
    MB_CUDA_CHECK(cudaGetDevice(&device));
    MB_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    return sms;
  }();
  return count;
}

}  // namespace moebench
