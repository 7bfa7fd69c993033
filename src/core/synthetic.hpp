#pragma once
// Deterministic synthetic tensors: every element is a pure function of (seed, tensor, index).
//
// This is what lets moebench run any model without weights: each backend materialises the
// same values where they live (a CUDA kernel on the GPU, threads on the CPU), and the fp64
// verifier regenerates only the rows it needs instead of holding a 22 GB copy of DeepSeek-V3's
// experts in host memory. All arithmetic is integer or exactly rounded float, so host and
// device agree bit for bit.
#include <cstdint>

#include "core/host_device.hpp"

namespace moebench {

// Stream ids: one per kind of tensor so that no two tensors share values.
enum class SynthStream : uint64_t {
  expert_gate_up = 1,
  expert_down = 2,
  shared_gate_up = 3,
  shared_down = 4,
  score_bias = 5,
  hidden_states = 6,  // plus the rotation index, so rotating inputs differ
  router_logits = 7,
  dense_weights = 8,  // model-level weights (issue 4 uses the range from here)
};

MB_HD uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// What synth_unit hashes the index with: one value per (seed, tensor), so a loop over a tensor
// computes it once.
MB_HD uint64_t synth_key(uint64_t seed, uint64_t stream) {
  return splitmix64(seed ^ (stream * 0xd1b54a32d192ed03ull));
}

// Uniform in [-1, 1) for element `index` of the tensor `key` names: 24 random bits, exact in float.
MB_HD float synth_unit_keyed(uint64_t key, uint64_t index) {
  uint64_t h = splitmix64(key + index);
  float u = float(uint32_t(h >> 40)) * (1.0f / 16777216.0f);  // [0, 1), exact
  return u * 2.0f - 1.0f;                                       // exact
}

MB_HD float synth_unit(uint64_t seed, uint64_t stream, uint64_t index) {
  return synth_unit_keyed(synth_key(seed, stream), index);
}

// Uniform with variance `variance`: scale = sqrt(3 * variance) (computed once by the caller).
MB_HD float synth_value(uint64_t seed, uint64_t stream, uint64_t index, float scale) {
  return synth_unit(seed, stream, index) * scale;  // one rounding, the same everywhere
}

}  // namespace moebench
