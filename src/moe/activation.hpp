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

}  // namespace moebench
