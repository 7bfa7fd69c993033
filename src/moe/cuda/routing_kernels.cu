#include "moe/cuda/routing_kernels.cuh"

#include <cfloat>
#include <climits>
#include <cmath>

#include "backend/cuda_check.hpp"
#include "backend/cuda_launch.cuh"
#include "backend/cuda_device_math.cuh"  // warp_sum

namespace moebench {

namespace {

constexpr int kWarpsPerBlock = 4;

struct Candidate {
  float value;
  int index;
};

// a ranks above b: higher value, ties to the lower index.
__device__ __forceinline__ bool ranks_above(Candidate a, Candidate b) {
  return a.value > b.value || (a.value == b.value && a.index < b.index);
}

__device__ __forceinline__ Candidate warp_best(Candidate c) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    Candidate o{__shfl_xor_sync(0xffffffffu, c.value, offset), __shfl_xor_sync(0xffffffffu, c.index, offset)};
    if (ranks_above(o, c)) c = o;
  }
  return c;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// One warp per token. Shared memory per warp: selection scores [E] floats, unbiased
// sigmoid scores [E] floats, and an eligibility flag per expert.
__global__ void topk_routing_kernel(RouterParams p, const float* __restrict__ logits, const float* __restrict__ bias,
                                    int64_t num_tokens, int32_t* __restrict__ ids, float* __restrict__ weights) {
  extern __shared__ unsigned char smem[];
  allow_next_kernels();
  wait_for_prior_kernels();
  const int E = p.num_experts;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* score = reinterpret_cast<float*>(smem) + size_t(warp) * 2 * E;
  float* sig = score + E;
  unsigned char* eligible = smem + size_t(kWarpsPerBlock) * 2 * E * sizeof(float) + size_t(warp) * E;
  const int64_t t = int64_t(blockIdx.x) * kWarpsPerBlock + warp;
  if (t >= num_tokens) return;
  const float* row = logits + t * E;

  for (int e = lane; e < E; e += 32) {
    float v = row[e];
    if (p.sigmoid) {
      float s = 1.0f / (1.0f + expf(-v));
      sig[e] = s;
      v = bias ? s + bias[e] : s;
    }
    score[e] = isnan(v) ? -INFINITY : v;
    eligible[e] = 1;
  }
  __syncwarp();

  if (p.sigmoid && p.n_group > 1) {
    // Group score = sum of the two best selection scores of the group; keep topk_group groups.
    const int G = E / p.n_group;
    __shared__ float group_score_all[kWarpsPerBlock][32];
    float* group_score = group_score_all[warp];
    for (int g = lane; g < p.n_group; g += 32) {
      float best1 = -INFINITY, best2 = -INFINITY;
      for (int e = g * G; e < (g + 1) * G; ++e) {
        float v = score[e];
        if (v > best1) {
          best2 = best1;
          best1 = v;
        } else if (v > best2) {
          best2 = v;
        }
      }
      group_score[g] = G == 1 ? best1 : best1 + best2;
    }
    __syncwarp();
    // Lane g < n_group holds its group; the kept groups are picked by repeated warp argmax.
    bool kept = false;
    Candidate mine{lane < p.n_group ? group_score[lane] : -INFINITY, lane < p.n_group ? lane : 1 << 30};
    for (int i = 0; i < p.topk_group; ++i) {
      Candidate best = warp_best(mine);
      if (best.index == lane) {
        kept = true;
        mine.value = -INFINITY;
        mine.index = 1 << 30;
      }
    }
    for (int g = 0; g < p.n_group; ++g) {
      bool g_kept = __shfl_sync(0xffffffffu, kept, g);
      if (!g_kept)
        for (int e = g * G + lane; e < (g + 1) * G; e += 32) eligible[e] = 0;
    }
    __syncwarp();
  }

  // Top-k by repeated argmax over eligible experts.
  int my_id = -1;  // lane j < k keeps the j-th choice
  for (int j = 0; j < p.top_k; ++j) {
    Candidate c{-INFINITY, 1 << 30};
    for (int e = lane; e < E; e += 32)
      if (eligible[e]) {
        Candidate o{score[e], e};
        if (c.index == (1 << 30) || ranks_above(o, c)) c = o;
      }
    Candidate best = warp_best(c);
    if (lane == j) my_id = best.index;
    if (lane == 0) eligible[best.index] = 0;
    __syncwarp();
  }

  float w = 0.0f;
  if (!p.sigmoid) {
    float m = -INFINITY;
    for (int e = lane; e < E; e += 32) m = fmaxf(m, score[e]);
    m = warp_max(m);
    float denom = 0.0f;
    for (int e = lane; e < E; e += 32) denom += expf(score[e] - m);
    denom = warp_sum(denom);
    if (lane < p.top_k) w = expf(score[my_id] - m) / denom;
    if (p.norm_topk_prob) {
      float sum = warp_sum(lane < p.top_k ? w : 0.0f);
      w /= sum;
    }
  } else {
    if (lane < p.top_k) w = sig[my_id];
    if (p.norm_topk_prob) {
      float sum = warp_sum(lane < p.top_k ? w : 0.0f);
      w /= sum + 1e-20f;
    }
  }
  if (lane < p.top_k) {
    ids[t * p.top_k + lane] = my_id;
    weights[t * p.top_k + lane] = w * p.routed_scaling_factor;
  }
}

// Scores as unsigned keys whose order is the floats' order (-0 counted as +0, as the float
// comparison does), so a warp's best key is one redux.sync instruction.
__device__ __forceinline__ unsigned ordered_key(float v) {
  const unsigned u = __float_as_uint(v == 0.0f ? 0.0f : v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float key_value(unsigned key) {
  return __uint_as_float((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key);
}

// The same selection without shared memory, for routing without a group limit and at most
// 32 * kPerLane experts: lane l holds experts l, l + 32, ... in registers. Each of the top_k
// rounds is a scan of kPerLane registers and two warp reductions in hardware (the best key,
// then the lowest expert holding it: ties to the lower index as in route()). The kernel above
// makes every round a pass over shared memory and five shuffle steps: 5.4 us per decode step at
// 128 experts on an H100. The winner's score is the round's best key, so the weights need no
// further lookups: with norm_topk_prob the softmax's denominator cancels and only the chosen
// scores are summed. One warp per token.
template <int kPerLane>
__global__ void topk_routing_registers_kernel(RouterParams p, const float* __restrict__ logits,
                                              const float* __restrict__ bias, int64_t num_tokens,
                                              int32_t* __restrict__ ids, float* __restrict__ weights) {
  allow_next_kernels();
  wait_for_prior_kernels();
  const int E = p.num_experts, lane = threadIdx.x % 32;
  const int64_t t = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (t >= num_tokens) return;
  const float* row = logits + t * E;
  float score[kPerLane], sig[kPerLane];
  unsigned eligible = 0;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int e = lane + 32 * i;
    score[i] = -INFINITY;
    sig[i] = 0.0f;
    if (e < E) {
      float v = row[e];
      if (p.sigmoid) {
        sig[i] = 1.0f / (1.0f + expf(-v));
        v = bias ? sig[i] + bias[e] : sig[i];
      }
      score[i] = isnan(v) ? -INFINITY : v;
      eligible |= 1u << i;
    }
  }
  int my_id = -1;           // lane j < top_k keeps the j-th choice,
  float my_score = 0.0f;    // its selection score
  float my_sig = 0.0f;      // and its sigmoid (sigmoid scoring)
  for (int j = 0; j < p.top_k; ++j) {
    unsigned key = 0;  // below every score's key: this lane has no eligible expert left
    int index = INT_MAX;
    float key_sig = 0.0f;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const unsigned k = ordered_key(score[i]);
      if ((eligible & (1u << i)) && k > key) {  // ascending experts: ties keep the lower one
        key = k;
        index = lane + 32 * i;
        key_sig = sig[i];
      }
    }
    const unsigned best_key = __reduce_max_sync(0xffffffffu, key);
    const int best = int(__reduce_min_sync(0xffffffffu, key == best_key ? unsigned(index) : unsigned(INT_MAX)));
    const float best_sig = p.sigmoid ? __shfl_sync(0xffffffffu, key_sig, best % 32) : 0.0f;
    if (lane == j) {
      my_id = best;
      my_score = key_value(best_key);
      my_sig = best_sig;
    }
    if (best % 32 == lane) eligible &= ~(1u << (best / 32));
  }
  const bool chosen = lane < p.top_k;
  float w = 0.0f;
  if (!p.sigmoid) {
    const float top = __shfl_sync(0xffffffffu, my_score, 0);  // the largest score
    w = chosen ? expf(my_score - top) : 0.0f;
    float denom = 0.0f;
    if (p.norm_topk_prob) {
      denom = warp_sum(w);
    } else {
#pragma unroll
      for (int i = 0; i < kPerLane; ++i)
        if (lane + 32 * i < E) denom += expf(score[i] - top);
      denom = warp_sum(denom);
    }
    w /= denom;
  } else {
    w = chosen ? my_sig : 0.0f;
    if (p.norm_topk_prob) w /= warp_sum(w) + 1e-20f;
  }
  if (chosen) {
    ids[t * p.top_k + lane] = my_id;
    weights[t * p.top_k + lane] = w * p.routed_scaling_factor;
  }
}

}  // namespace

RouterParams router_params(const ModelConfig& m) {
  RouterParams p;
  p.num_experts = m.num_experts;
  p.top_k = m.top_k;
  p.sigmoid = m.scoring == ScoringFunc::sigmoid;
  p.norm_topk_prob = m.norm_topk_prob;
  p.routed_scaling_factor = float(m.routed_scaling_factor);
  p.n_group = m.n_group;
  p.topk_group = m.topk_group;
  return p;
}

void launch_topk_routing(const RouterParams& p, const float* logits, const float* bias, int64_t num_tokens,
                         int32_t* ids, float* weights, cudaStream_t stream) {
  if (num_tokens == 0) return;
  if (p.top_k > 32 || p.n_group > 32)
    throw InputError("GPU routing supports top_k and n_group up to 32");
  size_t smem = size_t(kWarpsPerBlock) * p.num_experts * (2 * sizeof(float) + 1);
  static bool attribute_set = false;
  if (!attribute_set) {
    MB_CUDA_CHECK(cudaFuncSetAttribute(topk_routing_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024));
    attribute_set = true;
  }
  unsigned blocks = unsigned((num_tokens + kWarpsPerBlock - 1) / kWarpsPerBlock);
  if (!(p.sigmoid && p.n_group > 1) && p.num_experts <= 256) {
    const int per_lane = (p.num_experts + 31) / 32;
    auto kernel = per_lane <= 1   ? topk_routing_registers_kernel<1>
                  : per_lane <= 2 ? topk_routing_registers_kernel<2>
                  : per_lane <= 4 ? topk_routing_registers_kernel<4>
                                  : topk_routing_registers_kernel<8>;
    launch_chained(kernel, blocks, kWarpsPerBlock * 32, 0, stream, p, logits, bias, num_tokens, ids, weights);
    return;
  }
  launch_chained(topk_routing_kernel, blocks, kWarpsPerBlock * 32, smem, stream, p, logits, bias, num_tokens, ids,
                 weights);
}

}  // namespace moebench
