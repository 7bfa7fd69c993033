#include "moe/cuda/permute.cuh"

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include "backend/cuda_check.hpp"
#include "backend/cuda_launch.cuh"

namespace moebench {

namespace {

__global__ void count_experts_kernel(const int32_t* ids, int64_t n, int32_t* counts, int32_t* slot_iota) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    atomicAdd(&counts[ids[i]], 1);
    slot_iota[i] = int32_t(i);
  }
}

__global__ void slot_rows_kernel(const int32_t* sorted_slots, int64_t n, int32_t* slot_rows) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < n; r += int64_t(gridDim.x) * blockDim.x)
    slot_rows[sorted_slots[r]] = int32_t(r);
}

// The permutation of up to kOneBlockMaxSlots slots and kOneBlockMaxExperts experts is one
// chained kernel of one block, where the CUB path is a memset, a count, a scan, a sort and the
// inverse: five or six launches of a few microseconds each at decode and small-prefill sizes.
// Larger batches (up to 256 experts) split the slots into chunks of kPlaceChunk: three chained
// launches (count each chunk, scan the counts into every chunk's first row per expert, place
// each chunk), where CUB's chain measured ~45 us at 32768 slots. Both place a chunk as a
// stable counting sort, 1024 slots (one per thread, in slot order) at a time: a slot's row is
// its expert's base, plus the slots of its expert in earlier rounds, in earlier warps of this
// round (per-warp counts in shared memory) and on lower lanes of its warp (__match_any_sync).
// The same rows as the stable radix sort.
constexpr int64_t kOneBlockMaxSlots = 8192;
constexpr int kOneBlockMaxExperts = 256;  // the per-warp counts: 32 x 256 ints, 32 KB
constexpr int kOneBlockThreads = 1024;
constexpr int kOneBlockWarps = kOneBlockThreads / 32;
constexpr int kPlaceChunk = 2048;

// Warp 0 of the block: base[e] holds expert e's count; writes counts[e], offsets[e] (the
// exclusive scan) and offsets[E], and leaves base[e] = offsets[e].
__device__ void scan_expert_counts(int E, int32_t* base, int32_t* counts, int32_t* offsets) {
  const int lane = int(threadIdx.x) % 32;
  const int per = (E + 31) / 32;  // lane l takes experts [l * per, l * per + per)
  int local[kOneBlockMaxExperts / 32], sum = 0;
#pragma unroll
  for (int j = 0; j < kOneBlockMaxExperts / 32; ++j) {
    const int e = lane * per + j;
    local[j] = j < per && e < E ? base[e] : 0;
    sum += local[j];
  }
  int inclusive = sum;
  for (int o = 1; o < 32; o <<= 1) {
    const int v = __shfl_up_sync(0xffffffffu, inclusive, o);
    if (lane >= o) inclusive += v;
  }
  int run = inclusive - sum;
#pragma unroll
  for (int j = 0; j < kOneBlockMaxExperts / 32; ++j) {
    const int e = lane * per + j;
    if (j < per && e < E) {
      counts[e] = local[j];
      offsets[e] = run;
      base[e] = run;
    }
    run += local[j];
  }
  if (lane == 31) offsets[E] = inclusive;
}

// The block places slots [begin, end) stably by expert, base[e] being the row of expert e's
// first slot in the range; warp_counts [kOneBlockWarps][E] must be zero on entry (and is on
// exit). Called by every thread of the block.
__device__ void place_slots(const int32_t* ids, int begin, int end, int E, int32_t* base, int32_t* warp_counts,
                            int32_t* sorted_slots, int32_t* slot_rows) {
  const int t = int(threadIdx.x), warp = t / 32, lane = t % 32;
  for (int c0 = begin; c0 < end; c0 += kOneBlockThreads) {
    const int i = c0 + t;
    const int e = i < end ? ids[i] : -1;
    const unsigned peers = __match_any_sync(0xffffffffu, e);
    const int rank = __popc(peers & ((1u << lane) - 1u));
    if (e >= 0 && rank == 0) warp_counts[warp * E + e] = __popc(peers);
    __syncthreads();
    if (e >= 0) {
      int row = base[e] + rank;
      for (int w = 0; w < warp; ++w) row += warp_counts[w * E + e];
      sorted_slots[row] = i;
      slot_rows[i] = row;
    }
    __syncthreads();  // every row of the round is placed: advance the bases, clear the counts
    for (int x = t; x < E; x += kOneBlockThreads) {
      int round = 0;
      for (int w = 0; w < kOneBlockWarps; ++w) round += warp_counts[w * E + x];
      base[x] += round;
    }
    __syncthreads();
    if (e >= 0 && rank == 0) warp_counts[warp * E + e] = 0;
    __syncthreads();
  }
}

// Shared memory of the placing kernels: per-warp counts, then each expert's next row.
__device__ void zero_counts(int E, int32_t* warp_counts, int32_t* base) {
  for (int i = int(threadIdx.x); i < kOneBlockWarps * E; i += kOneBlockThreads) warp_counts[i] = 0;
  for (int e = int(threadIdx.x); e < E; e += kOneBlockThreads) base[e] = 0;
}

__global__ void __launch_bounds__(kOneBlockThreads)
    permute_one_block_kernel(const int32_t* ids, int n, int num_experts, int32_t* counts, int32_t* offsets,
                             int32_t* sorted_slots, int32_t* slot_rows) {
  extern __shared__ int32_t warp_counts[];       // [kOneBlockWarps][num_experts]
  __shared__ int32_t base[kOneBlockMaxExperts];  // counts, then each expert's next row
  allow_next_kernels();  // the gather may launch: it waits for this kernel
  wait_for_prior_kernels();
  const int E = num_experts;
  zero_counts(E, warp_counts, base);
  __syncthreads();
  for (int i = int(threadIdx.x); i < n; i += kOneBlockThreads) atomicAdd(&base[ids[i]], 1);
  __syncthreads();
  if (threadIdx.x < 32) scan_expert_counts(E, base, counts, offsets);
  __syncthreads();
  place_slots(ids, 0, n, E, base, warp_counts, sorted_slots, slot_rows);
}

// Multi-chunk path, 1 of 3: chunk_counts[c][e] = slots of expert e in chunk c.
__global__ void __launch_bounds__(kOneBlockThreads)
    count_chunks_kernel(const int32_t* ids, int n, int num_experts, int32_t* chunk_counts) {
  __shared__ int32_t count[kOneBlockMaxExperts];
  allow_next_kernels();
  wait_for_prior_kernels();
  const int E = num_experts, begin = int(blockIdx.x) * kPlaceChunk, end = min(n, begin + kPlaceChunk);
  for (int e = int(threadIdx.x); e < E; e += kOneBlockThreads) count[e] = 0;
  __syncthreads();
  for (int i = begin + int(threadIdx.x); i < end; i += kOneBlockThreads) atomicAdd(&count[ids[i]], 1);
  __syncthreads();
  for (int e = int(threadIdx.x); e < E; e += kOneBlockThreads) chunk_counts[int64_t(blockIdx.x) * E + e] = count[e];
}

// 2 of 3, one block: counts, offsets, and chunk_bases[c][e] = the row of chunk c's first slot
// of expert e.
__global__ void __launch_bounds__(kOneBlockThreads)
    chunk_bases_kernel(int num_chunks, int num_experts, const int32_t* chunk_counts, int32_t* chunk_bases,
                       int32_t* counts, int32_t* offsets) {
  __shared__ int32_t base[kOneBlockMaxExperts];
  allow_next_kernels();
  wait_for_prior_kernels();
  const int E = num_experts;
  for (int e = int(threadIdx.x); e < E; e += kOneBlockThreads) {
    int total = 0;
    for (int c = 0; c < num_chunks; ++c) total += chunk_counts[int64_t(c) * E + e];
    base[e] = total;
  }
  __syncthreads();
  if (threadIdx.x < 32) scan_expert_counts(E, base, counts, offsets);
  __syncthreads();
  for (int e = int(threadIdx.x); e < E; e += kOneBlockThreads) {
    int row = base[e];
    for (int c = 0; c < num_chunks; ++c) {
      chunk_bases[int64_t(c) * E + e] = row;
      row += chunk_counts[int64_t(c) * E + e];
    }
  }
}

// 3 of 3: each block places its chunk.
__global__ void __launch_bounds__(kOneBlockThreads)
    place_chunks_kernel(const int32_t* ids, int n, int num_experts, const int32_t* chunk_bases, int32_t* sorted_slots,
                        int32_t* slot_rows) {
  extern __shared__ int32_t warp_counts[];  // [kOneBlockWarps][num_experts]
  __shared__ int32_t base[kOneBlockMaxExperts];
  allow_next_kernels();  // the gather may launch: it waits for this kernel
  wait_for_prior_kernels();
  const int E = num_experts, begin = int(blockIdx.x) * kPlaceChunk, end = min(n, begin + kPlaceChunk);
  zero_counts(E, warp_counts, base);
  __syncthreads();
  for (int e = int(threadIdx.x); e < E; e += kOneBlockThreads) base[e] = chunk_bases[int64_t(blockIdx.x) * E + e];
  __syncthreads();
  place_slots(ids, begin, end, E, base, warp_counts, sorted_slots, slot_rows);
}

unsigned grid_for(int64_t n, int threads) {
  return unsigned(std::min<int64_t>((n + threads - 1) / threads, 65535));
}

__device__ int64_t bounded_rows(int64_t num_rows, const int32_t* device_rows) {
  return device_rows ? min(num_rows, int64_t(*device_rows)) : num_rows;
}

// Row order: rows[r] = x[sorted_slots[r] / top_k]. Element is uint4 (8 halves) when the row
// length allows, else one uint16_t.
template <typename Element>
__global__ void gather_rows_kernel(const Element* x, const int32_t* sorted_slots, int top_k, int64_t num_rows,
                                   const int32_t* device_rows, int64_t elements_per_row, Element* rows) {
  wait_for_prior_kernels();
  const int64_t n = bounded_rows(num_rows, device_rows);
  for (int64_t r = blockIdx.x; r < n; r += gridDim.x) {
    const Element* src = x + int64_t(sorted_slots[r] / top_k) * elements_per_row;
    Element* dst = rows + r * elements_per_row;
    for (int64_t v = threadIdx.x; v < elements_per_row; v += blockDim.x) dst[v] = src[v];
  }
}

// Token order: each block reads a token's row once and writes it to its top_k rows. Row order
// reads every token top_k times in expert order, which misses the L2 once the tokens outgrow
// it (qwen3-235b-a22b at 16384 tokens: 134 MB read 8 times from DRAM).
template <typename Element>
__global__ void gather_token_rows_kernel(const Element* x, const int32_t* slot_rows, int top_k, int64_t num_tokens,
                                         int64_t elements_per_row, Element* rows) {
  extern __shared__ int32_t token_rows[];  // [top_k]
  wait_for_prior_kernels();
  for (int64_t t = blockIdx.x; t < num_tokens; t += gridDim.x) {
    __syncthreads();  // the previous token's rows are read
    for (int j = threadIdx.x; j < top_k; j += blockDim.x) token_rows[j] = slot_rows[t * top_k + j];
    __syncthreads();
    const Element* src = x + t * elements_per_row;
    for (int64_t v = threadIdx.x; v < elements_per_row; v += blockDim.x) {
      const Element value = src[v];
      for (int j = 0; j < top_k; ++j)
        if (token_rows[j] >= 0) rows[int64_t(token_rows[j]) * elements_per_row + v] = value;
    }
  }
}

// First entry of `tokens` (sorted, `n` entries) that is >= t.
__device__ int64_t lower_bound(const int32_t* tokens, int64_t n, int64_t t) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (tokens[mid] < t) lo = mid + 1; else hi = mid;
  }
  return lo;
}

// The (row, weight) pairs token t sums, in a fixed order: its top_k slots (skipping dropped
// ones), then its extra rows. `visit(row, weight)` is called for each.
template <typename Visit>
__device__ void for_each_token_row(int64_t t, const int32_t* slot_rows, const float* weights, int top_k,
                                   const ExtraRows& extra, Visit visit) {
  for (int j = 0; j < top_k; ++j) {
    const int32_t row = slot_rows[t * top_k + j];
    if (row >= 0) visit(row, weights[t * top_k + j]);
  }
  if (extra.capacity > 0)
    for (int64_t i = lower_bound(extra.tokens, extra.capacity, t); i < extra.capacity && extra.tokens[i] == t; ++i)
      visit(extra.rows[i], extra.weights[i]);
}

// One block per token; each thread owns 8 consecutive columns (one 16-byte vector).
__global__ void combine_vec_kernel(const uint4* y, const int32_t* slot_rows, const float* weights, int top_k,
                                   int64_t num_tokens, int64_t hidden, DType dtype, const float* shared,
                                   const float* shared_gate_logits, ExtraRows extra, uint4* out) {
  const int64_t vecs = hidden / 8;
  for (int64_t t = blockIdx.x; t < num_tokens; t += gridDim.x) {
    float shared_scale = 1.0f;
    if (shared_gate_logits) shared_scale = 1.0f / (1.0f + expf(-shared_gate_logits[t]));
    for (int64_t v = threadIdx.x; v < vecs; v += blockDim.x) {
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for_each_token_row(t, slot_rows, weights, top_k, extra, [&](int32_t row, float w) {
        uint4 packed = y[int64_t(row) * vecs + v];
        const uint16_t* h = reinterpret_cast<const uint16_t*>(&packed);
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[i] += w * half_bits_to_float(h[i], dtype);
      });
      if (shared) {
        const float4* s = reinterpret_cast<const float4*>(shared + t * hidden + v * 8);
        float4 a = s[0], b = s[1];
        acc[0] += shared_scale * a.x; acc[1] += shared_scale * a.y; acc[2] += shared_scale * a.z; acc[3] += shared_scale * a.w;
        acc[4] += shared_scale * b.x; acc[5] += shared_scale * b.y; acc[6] += shared_scale * b.z; acc[7] += shared_scale * b.w;
      }
      uint4 result;
      uint16_t* r = reinterpret_cast<uint16_t*>(&result);
#pragma unroll
      for (int i = 0; i < 8; ++i) r[i] = float_to_half_bits(acc[i], dtype);
      out[t * vecs + v] = result;
    }
  }
}

__global__ void combine_scalar_kernel(const uint16_t* y, const int32_t* slot_rows, const float* weights, int top_k,
                                      int64_t num_tokens, int64_t hidden, DType dtype, const float* shared,
                                      const float* shared_gate_logits, ExtraRows extra, uint16_t* out) {
  for (int64_t t = blockIdx.x; t < num_tokens; t += gridDim.x) {
    float shared_scale = 1.0f;
    if (shared_gate_logits) shared_scale = 1.0f / (1.0f + expf(-shared_gate_logits[t]));
    for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x) {
      float acc = 0.0f;
      for_each_token_row(t, slot_rows, weights, top_k, extra, [&](int32_t row, float w) {
        acc += w * half_bits_to_float(y[int64_t(row) * hidden + c], dtype);
      });
      if (shared) acc += shared_scale * shared[t * hidden + c];
      out[t * hidden + c] = float_to_half_bits(acc, dtype);
    }
  }
}

}  // namespace

ExpertPermutation::ExpertPermutation(Backend& backend, int num_experts, int top_k, int64_t max_tokens)
    : num_experts_(num_experts), top_k_(top_k) {
  key_bits_ = 1;
  while ((1 << key_bits_) < num_experts) ++key_bits_;
  const int64_t n = max_tokens * top_k;
  counts_ = DeviceBuffer(backend, size_t(num_experts + 1) * 4);  // + a trailing 0 for the scan
  offsets_ = DeviceBuffer(backend, size_t(num_experts + 1) * 4);
  keys_sorted_ = DeviceBuffer(backend, size_t(n) * 4);
  slot_iota_ = DeviceBuffer(backend, size_t(n) * 4);
  sorted_slots_ = DeviceBuffer(backend, size_t(n) * 4);
  slot_rows_ = DeviceBuffer(backend, size_t(n) * 4);
  size_t sort_bytes = 0, scan_bytes = 0;
  MB_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, (const int32_t*)nullptr, (int32_t*)nullptr,
                                                (const int32_t*)nullptr, (int32_t*)nullptr, int(n), 0, key_bits_));
  MB_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, (const int32_t*)nullptr, (int32_t*)nullptr,
                                              num_experts + 1));
  temp_bytes_ = std::max(sort_bytes, scan_bytes);
  temp_ = DeviceBuffer(backend, temp_bytes_);
  if (n > kOneBlockMaxSlots && num_experts <= kOneBlockMaxExperts) {
    const size_t chunks = size_t((n + kPlaceChunk - 1) / kPlaceChunk);
    chunk_counts_ = DeviceBuffer(backend, chunks * size_t(num_experts) * 4);
    chunk_bases_ = DeviceBuffer(backend, chunks * size_t(num_experts) * 4);
  }
}

void ExpertPermutation::build(const int32_t* ids, int64_t num_tokens, cudaStream_t stream) {
  const int64_t n = num_tokens * top_k_;
  const size_t warp_counts_bytes = size_t(kOneBlockWarps) * num_experts_ * 4;
  if (n <= kOneBlockMaxSlots && num_experts_ <= kOneBlockMaxExperts) {
    launch_chained(permute_one_block_kernel, 1, kOneBlockThreads, warp_counts_bytes, stream, ids, int(n), num_experts_,
                   counts_.as<int32_t>(), offsets_.as<int32_t>(), sorted_slots_.as<int32_t>(),
                   slot_rows_.as<int32_t>());
    return;
  }
  if (num_experts_ <= kOneBlockMaxExperts) {
    const unsigned chunks = unsigned((n + kPlaceChunk - 1) / kPlaceChunk);
    launch_chained(count_chunks_kernel, chunks, kOneBlockThreads, 0, stream, ids, int(n), num_experts_,
                   chunk_counts_.as<int32_t>());
    launch_chained(chunk_bases_kernel, 1, kOneBlockThreads, 0, stream, int(chunks), num_experts_,
                   static_cast<const int32_t*>(chunk_counts_.as<int32_t>()), chunk_bases_.as<int32_t>(),
                   counts_.as<int32_t>(), offsets_.as<int32_t>());
    launch_chained(place_chunks_kernel, chunks, kOneBlockThreads, warp_counts_bytes, stream, ids, int(n),
                   num_experts_, static_cast<const int32_t*>(chunk_bases_.as<int32_t>()),
                   sorted_slots_.as<int32_t>(), slot_rows_.as<int32_t>());
    return;
  }
  // Counts carry a trailing 0, so the exclusive scan of E+1 entries ends with offsets[E] = T*k.
  MB_CUDA_CHECK(cudaMemsetAsync(counts_.get(), 0, size_t(num_experts_ + 1) * 4, stream));
  count_experts_kernel<<<grid_for(n, 256), 256, 0, stream>>>(ids, n, counts_.as<int32_t>(), slot_iota_.as<int32_t>());
  MB_CUDA_CHECK_LAUNCH();
  size_t temp = temp_bytes_;
  MB_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(temp_.get(), temp, counts_.as<int32_t>(), offsets_.as<int32_t>(),
                                              num_experts_ + 1, stream));
  temp = temp_bytes_;
  MB_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp_.get(), temp, ids, keys_sorted_.as<int32_t>(),
                                                slot_iota_.as<int32_t>(), sorted_slots_.as<int32_t>(), int(n), 0,
                                                key_bits_, stream));
  slot_rows_kernel<<<grid_for(n, 256), 256, 0, stream>>>(sorted_slots_.as<int32_t>(), n, slot_rows_.as<int32_t>());
  MB_CUDA_CHECK_LAUNCH();
}

void gather_rows(const void* x, const int32_t* sorted_slots, int top_k, int64_t num_rows, int64_t hidden,
                 DType dtype, void* rows, cudaStream_t stream, const int32_t* device_rows) {
  (void)dtype;
  if (num_rows == 0) return;
  const unsigned grid = unsigned(std::min<int64_t>(num_rows, 65535));
  // Chained: its launch overlaps the permutation kernel before it.
  if (hidden % 8 == 0)
    launch_chained(gather_rows_kernel<uint4>, grid, 128, 0, stream, static_cast<const uint4*>(x), sorted_slots, top_k,
                   num_rows, device_rows, hidden / 8, static_cast<uint4*>(rows));
  else
    launch_chained(gather_rows_kernel<uint16_t>, grid, 128, 0, stream, static_cast<const uint16_t*>(x), sorted_slots,
                   top_k, num_rows, device_rows, hidden, static_cast<uint16_t*>(rows));
}

void gather_token_rows(const void* x, const int32_t* slot_rows, int top_k, int64_t num_tokens, int64_t hidden,
                       void* rows, cudaStream_t stream) {
  if (num_tokens == 0) return;
  const unsigned grid = unsigned(std::min<int64_t>(num_tokens, 65535));
  const size_t smem = size_t(top_k) * sizeof(int32_t);
  // Chained: its launch overlaps the permutation kernel before it.
  if (hidden % 8 == 0)
    launch_chained(gather_token_rows_kernel<uint4>, grid, 128, smem, stream, static_cast<const uint4*>(x), slot_rows,
                   top_k, num_tokens, hidden / 8, static_cast<uint4*>(rows));
  else
    launch_chained(gather_token_rows_kernel<uint16_t>, grid, 128, smem, stream, static_cast<const uint16_t*>(x),
                   slot_rows, top_k, num_tokens, hidden, static_cast<uint16_t*>(rows));
}

void combine_rows(const void* y, const int32_t* slot_rows, const float* weights, int top_k, int64_t num_tokens,
                  int64_t hidden, DType dtype, const float* shared, const float* shared_gate_logits, void* out,
                  cudaStream_t stream, const ExtraRows& extra) {
  if (num_tokens == 0) return;
  unsigned grid = unsigned(std::min<int64_t>(num_tokens, 65535));
  if (hidden % 8 == 0) {
    combine_vec_kernel<<<grid, 128, 0, stream>>>(static_cast<const uint4*>(y), slot_rows, weights, top_k, num_tokens,
                                                 hidden, dtype, shared, shared_gate_logits, extra, static_cast<uint4*>(out));
  } else {
    combine_scalar_kernel<<<grid, 128, 0, stream>>>(static_cast<const uint16_t*>(y), slot_rows, weights, top_k,
                                                    num_tokens, hidden, dtype, shared, shared_gate_logits, extra,
                                                    static_cast<uint16_t*>(out));
  }
  MB_CUDA_CHECK_LAUNCH();
}

}  // namespace moebench
