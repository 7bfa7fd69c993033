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
// gate_up_split (one token): columns per block.
constexpr int kSplitCols = 4;
// down_combine: output rows per block, (slot, vector) pairs a thread loads at once, most tokens.
// 8 rows make qwen3-30b's 2048 rows one wave of blocks (two blocks per SM on an H100): decode
// TPOT at batch 1 3.59 -> 3.54 ms, batch 2 5.45 -> 5.42 against 4 rows (2 rows: 3.69).
constexpr int kDownRows = 8;
constexpr int kDownUnroll = 2;
constexpr int kDownMaxTokens = 2;

// The slots of this block's expert, in order, if the block's slot is the first to route to it;
// else 0. The block's threads read the ids in parallel (a single thread walking them would wait
// on one load after another) and compact the matches with ballots.
__device__ int expert_slots(const int32_t* ids, int64_t num_slots, int slot, int* slots) {
  __shared__ int warp_counts[kWarps];
  __shared__ int count;
  const int e = ids[slot], warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (threadIdx.x == 0) count = 0;
  bool earlier = false;
  for (int64_t base = 0; base < num_slots; base += blockDim.x) {
    const int64_t s = base + threadIdx.x;
    const bool same = s < num_slots && ids[s] == e;
    earlier |= __syncthreads_or(same && s < slot) != 0;
    const bool match = same && s >= slot;
    const unsigned ballot = __ballot_sync(0xffffffffu, match);
    if (lane == 0) warp_counts[warp] = __popc(ballot);
    __syncthreads();
    int at = count;
    for (int w = 0; w < warp; ++w) at += warp_counts[w];
    at += __popc(ballot & ((1u << lane) - 1u));
    if (match && at < kSmallBatchMaxSlots) slots[at] = int(s);
    __syncthreads();
    if (threadIdx.x == 0)
      for (int w = 0; w < kWarps; ++w) count += warp_counts[w];
    __syncthreads();
  }
  return earlier ? 0 : min(count, int(kSmallBatchMaxSlots));
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
              half_bits<Half2>(gated_activation<float>(activation, acc[0][b], acc[1][b]));
    }
  }
  allow_next_kernels();
}

// gate_up for one token: a block takes kSplitCols columns of one routed expert (their gate and
// up rows) and its threads split K, so each thread's loads of all 2 x kSplitCols rows are in
// flight at once: a single round trip to HBM per row for hidden sizes up to 2048 (the warp per
// row pair of gate_up_kernel waits for hidden / 256 of them one after the other: 22 -> 20.8 us
// for qwen3-30b's 50 MB, and TPOT 4.06 -> 3.71 ms with the skinny GEMM's change). At 2 tokens
// it was slower than gate_up_kernel (TPOT 5.95 vs 5.70 ms). The partial sums meet in shared
// memory in warp order. A token's top_k experts are distinct, so block x's slot x is the only
// one of its expert: no expert_slots() pass (its barriers and dependent loads ran in every one
// of the ~1500 blocks of a qwen3-30b layer).
template <typename Half2>
__global__ void __launch_bounds__(kWarps * 32, 4)  // 64 registers, no spills: 4 blocks per SM
    gate_up_split_kernel(const uint4* x, const int32_t* ids, const uint4* w13, int64_t hidden, int64_t inter,
                         Activation activation, uint16_t* h) {
  __shared__ float partial[kWarps][2 * kSplitCols][1];
  wait_for_prior_kernels();
  const int slot = blockIdx.x;
  const int64_t vecs = hidden / 8, c0 = int64_t(blockIdx.y) * kSplitCols;
  const int last = int(std::min<int64_t>(kSplitCols, inter - c0)) - 1;  // columns past inter: not written
  const uint4* gate = w13 + (int64_t(ids[slot]) * 2 * inter + c0) * vecs;
  const uint4* up = gate + inter * vecs;
  float acc[2 * kSplitCols][1] = {};
  for (int64_t v = threadIdx.x; v < vecs; v += blockDim.x) {
    uint4 wv[2 * kSplitCols];
#pragma unroll
    for (int j = 0; j < kSplitCols; ++j) {
      wv[j] = __ldg(gate + int64_t(min(j, last)) * vecs + v);
      wv[kSplitCols + j] = __ldg(up + int64_t(min(j, last)) * vecs + v);
    }
    float a[8];
    to_floats<Half2>(x[v], a);  // the token
#pragma unroll
    for (int j = 0; j < 2 * kSplitCols; ++j) {
      float wf[8];
      to_floats<Half2>(wv[j], wf);
#pragma unroll
      for (int i = 0; i < 8; ++i) acc[j][0] += wf[i] * a[i];
    }
  }
  allow_next_kernels();  // only the reductions and stores are left
  block_sums_to_shared(acc, partial);  // one token: [row][1]
  const int j = threadIdx.x;
  if (j <= last) {
    const float g = block_total(partial, j, 0), u = block_total(partial, kSplitCols + j, 0);
    h[int64_t(slot) * inter + c0 + j] = half_bits<Half2>(gated_activation<float>(activation, g, u));
  }
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
        if (b < nb && lane == b) y[int64_t(slots[base + b]) * hidden + r] = half_bits<Half2>(acc[0][b]);
    }
  }
  allow_next_kernels();
}

// Block: kDownRows output rows. Its threads split the (slot, vector) pairs of the routed rows:
// a thread loads a pair's activated vector once and the expert's weight vector of each of the
// block's rows, kDownUnroll pairs at a time, all in flight together (a warp walking a row's
// pairs alone waited on three round trips to HBM one after the other: 15 us for qwen3-30b's
// 25 MB at 1 token). The partial sums meet in shared memory in warp order: deterministic.
template <typename Half2>
__global__ void __launch_bounds__(kWarps * 32)
    down_combine_kernel(const uint4* h, const int32_t* ids, const float* route_weights, int num_tokens, int top_k,
                        const uint4* w2, int64_t hidden, int64_t vecs, const float* shared,
                        const float* shared_gate_logits, uint16_t* out) {
  __shared__ int expert_of[kMaxTokenSlots];
  __shared__ float weight_of[kMaxTokenSlots];
  __shared__ float partial[kWarps][kDownRows][kDownMaxTokens];
  // The routing before the chained wait: the routing kernel ran two launches back, and this
  // kernel launches only once every block of the gate+up kernel in between has passed its own
  // wait for it. Read through L2 (ld.global.cg): an SM's L1 may still hold these buffers from an
  // earlier layer. (Loading the first weight vectors before the wait as well was slower: 3.35
  // against 3.31 ms.)
  const int num_slots = num_tokens * top_k;
  for (int s = threadIdx.x; s < num_slots; s += blockDim.x) {
    expert_of[s] = __ldcg(ids + s);
    weight_of[s] = __ldcg(route_weights + s);
  }
  wait_for_prior_kernels();
  __syncthreads();
  const int64_t row0 = int64_t(blockIdx.x) * kDownRows;
  int64_t rows[kDownRows];
#pragma unroll
  for (int r = 0; r < kDownRows; ++r) rows[r] = std::min<int64_t>(row0 + r, hidden - 1);  // past hidden: not written
  float acc[kDownRows][kDownMaxTokens] = {};
  const int64_t pairs = int64_t(num_slots) * vecs;
  for (int64_t base = threadIdx.x; base < pairs; base += int64_t(blockDim.x) * kDownUnroll) {
    uint4 a[kDownUnroll], w[kDownUnroll][kDownRows];
    int slot[kDownUnroll];
#pragma unroll
    for (int u = 0; u < kDownUnroll; ++u) {
      const int64_t q = base + int64_t(u) * blockDim.x;
      slot[u] = -1;
      if (q < pairs) {
        const int s = int(q / vecs);
        const int64_t v = q - int64_t(s) * vecs;
        slot[u] = s;
        a[u] = h[int64_t(s) * vecs + v];
#pragma unroll
        for (int r = 0; r < kDownRows; ++r) w[u][r] = __ldg(w2 + (int64_t(expert_of[s]) * hidden + rows[r]) * vecs + v);
      }
    }
#pragma unroll
    for (int u = 0; u < kDownUnroll; ++u) {
      if (slot[u] < 0) break;
      float af[8];
      to_floats<Half2>(a[u], af);
      const float weight = weight_of[slot[u]];
      const int t = slot[u] / top_k;
#pragma unroll
      for (int r = 0; r < kDownRows; ++r) {
        float wf[8], dot = 0.0f;
        to_floats<Half2>(w[u][r], wf);
#pragma unroll
        for (int k = 0; k < 8; ++k) dot += wf[k] * af[k];
#pragma unroll
        for (int b = 0; b < kDownMaxTokens; ++b)
          if (b == t) acc[r][b] += weight * dot;
      }
    }
  }
  allow_next_kernels();  // only the reductions and stores are left
  block_sums_to_shared(acc, partial);
  for (int i = threadIdx.x; i < kDownRows * num_tokens; i += blockDim.x) {
    const int r = i / num_tokens, b = i % num_tokens;
    if (row0 + r >= hidden) continue;
    float y = block_total(partial, r, b);
    if (shared) {
      const float scale = shared_gate_logits ? 1.0f / (1.0f + expf(-shared_gate_logits[b])) : 1.0f;
      y += scale * shared[int64_t(b) * hidden + row0 + r];
    }
    out[int64_t(b) * hidden + row0 + r] = half_bits<Half2>(y);
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
  auto* xv = static_cast<const uint4*>(x);
  auto* wv = static_cast<const uint4*>(w13);
  auto* hv = static_cast<uint16_t*>(h);
  if (num_slots == top_k) {  // one token
    const dim3 split_grid(unsigned(num_slots), unsigned((inter + kSplitCols - 1) / kSplitCols));
    auto kernel = dtype == DType::bf16 ? gate_up_split_kernel<__nv_bfloat162> : gate_up_split_kernel<__half2>;
    launch_chained(kernel, split_grid, kWarps * 32, 0, stream, xv, ids, wv, hidden, inter, activation, hv);
    return;
  }
  const dim3 grid = grid_for(num_slots, top_k, inter);
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
  if (num_tokens > kDownMaxTokens || top_k > 32)
    throw InputError("small_batch_down_combine takes at most " + std::to_string(kDownMaxTokens) +
                     " tokens and top_k <= 32");
  const unsigned grid = unsigned((hidden + kDownRows - 1) / kDownRows);
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
