#pragma once
// The gated activations of an expert's first projection, shared by every backend:
// out = act(gate) * up, with the variants the model families use.
#include <cmath>

#include "core/host_device.hpp"
#include "core/model_config.hpp"

namespace moebench {

// gpt-oss "swigluoai": gate clamped above at 7, up clamped to [-7, 7],
// out = (up + 1) * gate * sigmoid(1.702 * gate).
constexpr float kSwigluOaiLimit = 7.0f;
constexpr float kSwigluOaiAlpha = 1.702f;

template <typename T>
MB_HD T gated_activation(Activation act, T gate, T up) {
  using std::exp;
  using std::tanh;
  switch (act) {
    case Activation::silu:
      return gate / (T(1) + exp(-gate)) * up;
    case Activation::gelu: {  // tanh approximation (gelu_pytorch_tanh)
      const T k0 = T(0.7978845608028654), k1 = T(0.044715);
      return T(0.5) * gate * (T(1) + tanh(k0 * (gate + k1 * gate * gate * gate))) * up;
    }
    case Activation::swigluoai: {
      T g = gate < T(kSwigluOaiLimit) ? gate : T(kSwigluOaiLimit);
      T u = up < T(-kSwigluOaiLimit) ? T(-kSwigluOaiLimit) : (up > T(kSwigluOaiLimit) ? T(kSwigluOaiLimit) : up);
      return (u + T(1)) * g / (T(1) + exp(-T(kSwigluOaiAlpha) * g));
    }
  }
  return T(0);
}

#ifdef __CUDACC__
// The same activations through the fast-math intrinsics (__expf, __fdividef), each as
// x * sigmoid(y) (gelu's tanh form too: 0.5 * (1 + tanh(z)) = sigmoid(2z)): for GEMM epilogues,
// where this math runs between tensor-core tiles instead of hiding under memory traffic (the
// accurate expf and division took a few microseconds per 256x128 tile). Their relative error,
// ~1e-6, is far below the rounding of the bf16/fp16 result.
__device__ inline float gated_activation_fast(Activation act, float gate, float up) {
  switch (act) {
    case Activation::silu:
      return __fdividef(gate * up, 1.0f + __expf(-gate));
    case Activation::gelu: {
      const float z = 0.7978845608028654f * (gate + 0.044715f * gate * gate * gate);
      return __fdividef(gate * up, 1.0f + __expf(-2.0f * z));
    }
    case Activation::swigluoai: {
      const float g = fminf(gate, kSwigluOaiLimit), u = fminf(fmaxf(up, -kSwigluOaiLimit), kSwigluOaiLimit);
      return __fdividef((u + 1.0f) * g, 1.0f + __expf(-kSwigluOaiAlpha * g));
    }
  }
  return 0.0f;
}
#endif

}  // namespace moebench
