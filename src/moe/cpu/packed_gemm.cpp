#include "moe/cpu/packed_gemm.hpp"

#include "core/parallel.hpp"

namespace moebench::cpu {

void pack_panels(const uint16_t* src, DType dtype, int64_t K, int64_t panels,
                 const std::function<int64_t(int64_t panel, int column)>& source_row, float* dst) {
  parallel_for(panels, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      float* out = dst + p * K * kPanelWidth;
      for (int j = 0; j < kPanelWidth; ++j) {
        int64_t row = source_row(p, j);
        if (row < 0) {
          for (int64_t k = 0; k < K; ++k) out[k * kPanelWidth + j] = 0.0f;
          continue;
        }
        const uint16_t* in = src + row * K;
        for (int64_t k = 0; k < K; ++k) out[k * kPanelWidth + j] = half_bits_to_float(in[k], dtype);
      }
    }
  });
}

void pack_panels(const float* src, int64_t K, int64_t panels,
                 const std::function<int64_t(int64_t panel, int column)>& source_row, float* dst) {
  parallel_for(panels, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      float* out = dst + p * K * kPanelWidth;
      for (int j = 0; j < kPanelWidth; ++j) {
        const int64_t row = source_row(p, j);
        for (int64_t k = 0; k < K; ++k) out[k * kPanelWidth + j] = row < 0 ? 0.0f : src[row * K + k];
      }
    }
  });
}

}  // namespace moebench::cpu
