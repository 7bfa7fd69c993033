#include "moe/cuda/small_batch.cuh"

#include <algorithm>
#include <string>

#include "backend/cuda_launch.cuh"
#include "core/errors.hpp"
#include "moe/activation.hpp"
#include "moe/cuda/weight_stream.cuh"

namespace moebench {

namespace {

constexpr int kWarps = 8;        // per block
constexpr int kRowsPerWarp = 2;  // gate/up weight row pairs each warp streams
constexpr int kColsPerBlock = kWarps * kRowsPerWarp;
constexpr int kMaxTokenSlots = kStreamTokenBatch * 32;  // down_combine: tokens x top_k (<= 32)
constexpr int kDownUnroll = 8;  // down_combine: (slot, vector) pairs a lane loads at once

// The slots of this block's expert, if the block's slot is the first to route to it; else 0.
__device__ int expert_slots(const int32_t* ids, int64_t num_slots, int slot, int* slots) {
  __shared__ int count, first;
  const int e = ids[slot];
  if (threadIdx.x == 0) {
    count = 0;
    first = 1;
  }
  __syncthreads();
  for (int s = threadIdx.x; s < slot; s += blockDim.x)
    if (ids[s] == e) first = 0;
  __syncthreads();
  if (!first) return 0;
  if (threadIdx.x == 0)  // in slot order: deterministic, and at most a few hundred slots
    for (int s = slot; s < num_slots; ++s)
      if (ids[s] == e && count < kSmallBatchMaxSlots) slots[count++] = s;
  __syncthreads();
  return count;
}

template <typename Half2>
__global__ void __launch_bounds__(kWarps * 32) gate_up_kernel(const uint4* x, const int32_t* ids, int64_t num_slots,
                                                              int top_k, const uint4* w13, int64_t hidden,
                                                              int64_t inter, Activation activation, uint16_t* h) {
  __shared__ int slots[kSmallBatchMaxSlots];
  wait_for_prior_kernels();
  const int n = expert_slots(ids, num_slots, blockIdx.x, slots);
  if (n == 0) return;  // exiting lets the next kernel launch too
  const int e = ids[blockIdx.x], lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t vecs = hidden / 8;
  const uint4* w = w13 + int64_t(e) * 2 * inter * vecs;
  for (int i = 0; i < kRowsPerWarp; ++i) {
    const int64_t c = int64_t(blockIdx.y) * kColsPerBlock + warp * kRowsPerWarp + i;
    if (c >= inter) break;
    const uint4* const rows[2] = {w + c * vecs, w + (inter + c) * vecs};  // gate, up
    for (int base = 0; base < n; base += kStreamTokenBatch) {
      const int nb = min(kStreamTokenBatch, n - base);
      float acc[2][kStreamTokenBatch];
      dot_rows<Half2>(rows, vecs, nb, [&](int b) { return x + int64_t(slots[base + b] / top_k) * vecs; }, acc);
#pragma unroll
      for (int b = 0; b < kStreamTokenBatch; ++b)
        if (b < nb && lane == b)
          h[int64_t(slots[base + b]) * inter + c] =
              to_half_bits<Half2>(gated_activation<float>(activation, acc[0][b], acc[1][b]));
    }
  }
  allow_next_kernels();
}

template <typename Half2>
__global__ void __launch_bounds__(kWarps * 32) down_kernel(const uint4* h, const int32_t* ids, int64_t num_slots,
                                                           const uint4* w2, int64_t hidden, int64_t inter,
                                                           uint16_t* y) {
  __shared__ int slots[kSmallBatchMaxSlots];
  wait_for_prior_kernels();
  const int n = expert_slots(ids, num_slots, blockIdx.x, slots);
  if (n == 0) return;
  const int e = ids[blockIdx.x], lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t vecs = inter / 8;
  const uint4* w = w2 + int64_t(e) * hidden * vecs;
  for (int i = 0; i < kRowsPerWarp; ++i) {
    const int64_t r = int64_t(blockIdx.y) * kColsPerBlock + warp * kRowsPerWarp + i;
    if (r >= hidden) break;
    const uint4* const rows[1] = {w + r * vecs};
    for (int base = 0; base < n; base += kStreamTokenBatch) {
      const int nb = min(kStreamTokenBatch, n - base);
      float acc[1][kStreamTokenBatch];
      dot_rows<Half2>(rows, vecs, nb, [&](int b) { return h + int64_t(slots[base + b]) * vecs; }, acc);
#pragma unroll
      for (int b = 0; b < kStreamTokenBatch; ++b)
        if (b < nb && lane == b) y[int64_t(slots[base + b]) * hidden + r] = to_half_bits<Half2>(acc[0][b]);
    }
  }
  allow_next_kernels();
}

// Block: kWarps output rows, one per warp. The block first orders the slots by expert (experts
// in order of first appearance, slots ascending within one): the sums then run in an order that
// depends only on the routing, and a warp reads an expert's row for its slots back to back (L1
// hits after the first). A lane walks the (slot, vector) pairs of its row kDownUnroll at a
// time, their loads all in flight (kDownUnroll).
template <typename Half2>
__global__ void __launch_bounds__(kWarps * 32)
    down_combine_kernel(const uint4* h, const int32_t* ids, const float* route_weights, int num_tokens, int top_k,
                        const uint4* w2, int64_t hidden, int64_t vecs, const float* shared,
                        const float* shared_gate_logits, uint16_t* out) {
  __shared__ int first[kMaxTokenSlots], slot_at[kMaxTokenSlots], expert_at[kMaxTokenSlots];
  __shared__ float weight_at[kMaxTokenSlots];
  wait_for_prior_kernels();
  const int num_slots = num_tokens * top_k;
  for (int s = threadIdx.x; s < num_slots; s += blockDim.x) {
    int f = s;
    for (int o = 0; o < s; ++o)
      if (ids[o] == ids[s]) {
        f = o;
        break;
      }
    first[s] = f;
  }
  __syncthreads();
  for (int s = threadIdx.x; s < num_slots; s += blockDim.x) {
    int rank = 0;
    for (int o = 0; o < num_slots; ++o) rank += first[o] < first[s] || (first[o] == first[s] && o < s);
    slot_at[rank] = s;
    expert_at[rank] = ids[s];
    weight_at[rank] = route_weights[s];
  }
  __syncthreads();
  const int lane = threadIdx.x % 32;
  const int64_t r = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (r >= hidden) return;
  float acc[kStreamTokenBatch] = {};
  const int64_t pairs = int64_t(num_slots) * vecs;
  for (int64_t base = lane; base < pairs; base += 32 * kDownUnroll) {
    uint4 w[kDownUnroll], a[kDownUnroll];
    int slot[kDownUnroll];
#pragma unroll
    for (int u = 0; u < kDownUnroll; ++u) {
      const int64_t q = base + u * 32;
      slot[u] = -1;
      w[u] = a[u] = make_uint4(0, 0, 0, 0);
      if (q < pairs) {
        const int i = int(q / vecs);
        const int64_t v = q - i * vecs;
        slot[u] = i;
        w[u] = __ldg(w2 + (int64_t(expert_at[i]) * hidden + r) * vecs + v);
        a[u] = __ldg(h + int64_t(slot_at[i]) * vecs + v);
      }
    }
#pragma unroll
    for (int u = 0; u < kDownUnroll; ++u) {
      if (slot[u] < 0) break;
      float wf[8], af[8], dot = 0.0f;
      to_floats<Half2>(w[u], wf);
      to_floats<Half2>(a[u], af);
#pragma unroll
      for (int k = 0; k < 8; ++k) dot += wf[k] * af[k];
      const int t = slot_at[slot[u]] / top_k;
      const float weighted = weight_at[slot[u]] * dot;
#pragma unroll
      for (int b = 0; b < kStreamTokenBatch; ++b)
        if (b == t) acc[b] += weighted;
    }
  }
  allow_next_kernels();  // only the reductions and stores are left
#pragma unroll
  for (int b = 0; b < kStreamTokenBatch; ++b) {
    if (b >= num_tokens) break;
    float y = warp_sum(acc[b]);
    if (lane == b) {
      if (shared) {
        const float scale = shared_gate_logits ? 1.0f / (1.0f + expf(-shared_gate_logits[b])) : 1.0f;
        y += scale * shared[int64_t(b) * hidden + r];
      }
      out[int64_t(b) * hidden + r] = to_half_bits<Half2>(y);
    }
  }
}

// One block per (slot, kColsPerBlock output columns); blocks of a slot whose expert an earlier
// slot has leave at once.
dim3 grid_for(int64_t num_slots, int top_k, int64_t columns) {
  // An expert has at most one slot per token: its slots fit the block's list.
  if (num_slots / top_k > kSmallBatchMaxSlots)
    throw InputError("the small-batch expert kernels take at most " + std::to_string(kSmallBatchMaxSlots) + " tokens");
  return dim3(unsigned(num_slots), unsigned((columns + kColsPerBlock - 1) / kColsPerBlock));
}

}  // namespace

void small_batch_gate_up(const void* x, const int32_t* ids, int64_t num_slots, int top_k, const void* w13,
                         int64_t hidden, int64_t inter, DType dtype, Activation activation, void* h,
                         cudaStream_t stream) {
  if (num_slots == 0) return;
  const dim3 grid = grid_for(num_slots, top_k, inter);
  auto* xv = static_cast<const uint4*>(x);
  auto* wv = static_cast<const uint4*>(w13);
  auto* hv = static_cast<uint16_t*>(h);
  if (dtype == DType::bf16)
    launch_chained(gate_up_kernel<__nv_bfloat162>, grid, kWarps * 32, 0, stream, xv, ids, num_slots, top_k, wv, hidden,
                   inter, activation, hv);
  else
    launch_chained(gate_up_kernel<__half2>, grid, kWarps * 32, 0, stream, xv, ids, num_slots, top_k, wv, hidden, inter,
                   activation, hv);
}

void small_batch_down(const void* h, const int32_t* ids, int64_t num_slots, int top_k, const void* w2,
                      int64_t hidden, int64_t inter, DType dtype, void* y, cudaStream_t stream) {
  if (num_slots == 0) return;
  const dim3 grid = grid_for(num_slots, top_k, hidden);
  auto* hv = static_cast<const uint4*>(h);
  auto* wv = static_cast<const uint4*>(w2);
  auto* yv = static_cast<uint16_t*>(y);
  if (dtype == DType::bf16)
    launch_chained(down_kernel<__nv_bfloat162>, grid, kWarps * 32, 0, stream, hv, ids, num_slots, wv, hidden, inter, yv);
  else
    launch_chained(down_kernel<__half2>, grid, kWarps * 32, 0, stream, hv, ids, num_slots, wv, hidden, inter, yv);
}

void small_batch_down_combine(const void* h, const int32_t* ids, const float* route_weights, int64_t num_tokens,
                              int top_k, const void* w2, int64_t hidden, int64_t inter, DType dtype,
                              const float* shared, const float* shared_gate_logits, void* out, cudaStream_t stream) {
  if (num_tokens == 0) return;
  if (num_tokens > kStreamTokenBatch || top_k > 32)
    throw InputError("small_batch_down_combine takes at most " + std::to_string(kStreamTokenBatch) +
                     " tokens and top_k <= 32");
  const unsigned grid = unsigned((hidden + kWarps - 1) / kWarps);
  auto* hv = static_cast<const uint4*>(h);
  auto* wv = static_cast<const uint4*>(w2);
  auto* ov = static_cast<uint16_t*>(out);
  if (dtype == DType::bf16)
    launch_chained(down_combine_kernel<__nv_bfloat162>, grid, kWarps * 32, 0, stream, hv, ids, route_weights,
                   int(num_tokens), top_k, wv, hidden, inter / 8, shared, shared_gate_logits, ov);
  else
    launch_chained(down_combine_kernel<__half2>, grid, kWarps * 32, 0, stream, hv, ids, route_weights,
                   int(num_tokens), top_k, wv, hidden, inter / 8, shared, shared_gate_logits, ov);
}

}  // namespace moebench
