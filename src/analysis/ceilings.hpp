#pragma once
// The two ceilings every roofline figure is measured against, taken in the same run:
// device-to-device copy bandwidth (bytes read + written) and large bf16 GEMM throughput.
#include <cmath>
#include <string>

#include "backend/backend.hpp"

namespace moebench {

struct Ceilings {
  double copy_gbps = NAN;    // GB/s (1e9 bytes), read + write
  double gemm_tflops = NAN;  // dense bf16 TFLOP/s on random data; NaN where not measured
  std::string copy_method;
  std::string gemm_method;
  bool known() const { return std::isfinite(copy_gbps) && std::isfinite(gemm_tflops); }
};

// Measures on `backend`: on the GPU a 2 GiB device copy and an 8192^3 bf16 cuBLAS GEMM (medians
// of timed repeats after warm-up); on the CPU a memcpy bandwidth only (no GEMM ceiling: the
// CPU roofline is not reported).
Ceilings measure_ceilings(Backend& backend);

}  // namespace moebench
