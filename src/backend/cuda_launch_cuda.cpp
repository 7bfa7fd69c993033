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

}  // namespace moebench
