#include "moe/cuda/tile_rounding.cuh"

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <string>
#include <vector>

#include "backend/cuda_check.hpp"
#include "core/errors.hpp"

namespace moebench {

namespace {

constexpr int kThreads = 256;  // one histogram bin per thread in the radix select
using BlockScan = cub::BlockScan<int, kThreads>;
using BlockReduce = cub::BlockReduce<int, kThreads>;
// The add search keeps one bit per token in shared memory; past this many bytes (1.6M tokens)
// the layer is refused.
constexpr size_t kMaxBitmapBytes = 200 * 1024;

// Monotone map of a float to uint32 (-0 and +0 equal): integer order is float order.
__device__ uint32_t orderable(float f) {
  const uint32_t b = __float_as_uint(f == 0.0f ? 0.0f : f);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// Strength of token t for an expert: the higher logit, then the lower token. Unique per token.
__device__ uint64_t strength(float logit, int64_t t) {
  return (uint64_t(orderable(logit)) << 32) | uint64_t(0xFFFFFFFFu - uint32_t(t));
}

__device__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

struct SelectState {
  uint64_t prefix;
  int remaining;
};

// The n-th smallest (1-based) of the keys key_at(i, key) yields for i in [0, count) (it returns
// whether i takes part): an exact radix select, 8 bits a pass from the top. The keys are
// unique, so exactly n of them are <= the result. Every thread of the block calls it.
template <typename KeyAt>
__device__ uint64_t block_select(int64_t count, int n, KeyAt key_at, unsigned* hist, SelectState& st,
                                 typename BlockScan::TempStorage& scan) {
  if (threadIdx.x == 0) {
    st.prefix = 0;
    st.remaining = n;
  }
  uint64_t mask = 0;
  for (int shift = 56; shift >= 0; shift -= 8) {
    hist[threadIdx.x] = 0;
    __syncthreads();
    const uint64_t prefix = st.prefix;
    for (int64_t i = threadIdx.x; i < count; i += kThreads) {
      uint64_t key;
      if (key_at(i, key) && (key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 255u], 1u);
    }
    __syncthreads();
    const int bin = int(hist[threadIdx.x]);
    int inclusive;
    BlockScan(scan).InclusiveSum(bin, inclusive);
    const int remaining = st.remaining;
    __syncthreads();  // every thread has read st before one of them changes it
    const int exclusive = inclusive - bin;
    if (exclusive < remaining && remaining <= inclusive) {
      st.prefix = prefix | (uint64_t(threadIdx.x) << shift);
      st.remaining = remaining - exclusive;
    }
    mask |= uint64_t(255) << shift;
    __syncthreads();
  }
  return st.prefix;
}

struct DecideParams {
  const float* logits;         // [T][E]
  const int32_t* ids;          // [T][k]
  const float* weights;        // [T][k]
  const int32_t* sorted_slots; // permutation: row -> slot
  const int32_t* offsets;      // permutation: [E+1]
  int64_t num_tokens;
  int num_experts, top_k, tile, capacity;
  bool sigmoid;
  uint8_t* drop_row;           // [T*k] by permutation row
  int32_t* new_counts;         // [E]
  int32_t* added_counts;       // [E]
  int32_t* added_tokens;       // [E][capacity]
  float* added_weights;        // [E][capacity]
  unsigned long long* stats;   // RoundingStats, in order
};

// One block per expert: decide, mark the dropped rows, list the added tokens in token order.
__global__ void __launch_bounds__(kThreads) decide_kernel(DecideParams p) {
  extern __shared__ uint32_t routed_bits[];  // one bit per token: routes to this expert
  __shared__ unsigned hist[kThreads];
  __shared__ SelectState st;
  __shared__ typename BlockScan::TempStorage scan;
  __shared__ int running;
  const int e = blockIdx.x, E = p.num_experts, k = p.top_k, m = p.tile;
  const int begin = p.offsets[e], c = p.offsets[e + 1] - begin, r = c % m;
  const int64_t T = p.num_tokens;
  auto token_of_row = [&](int64_t i) { return int64_t(p.sorted_slots[begin + i] / k); };
  auto logit = [&](int64_t t) { return p.logits[t * E + e]; };

  int new_count = c, added = 0;
  if (r != 0 && 2 * r <= m && c >= m) {  // round down: drop the r weakest
    const uint64_t weakest = block_select(c, r, [&](int64_t i, uint64_t& key) {
      const int64_t t = token_of_row(i);
      key = strength(logit(t), t);
      return true;
    }, hist, st, scan);
    for (int64_t i = threadIdx.x; i < c; i += kThreads) {
      const int64_t t = token_of_row(i);
      p.drop_row[begin + i] = strength(logit(t), t) <= weakest;
    }
    new_count = c - r;
  } else {
    for (int64_t i = threadIdx.x; i < c; i += kThreads) p.drop_row[begin + i] = 0;
    if (r != 0 && 2 * r > m && m - r <= T - c) {  // round up: add the m - r strongest others
      const int need = m - r;
      for (int64_t w = threadIdx.x; w < (T + 31) / 32; w += kThreads) routed_bits[w] = 0;
      __syncthreads();
      for (int64_t i = threadIdx.x; i < c; i += kThreads) {
        const int64_t t = token_of_row(i);
        atomicOr(&routed_bits[t / 32], 1u << (t % 32));
      }
      __syncthreads();
      auto candidate = [&](int64_t t) { return ((routed_bits[t / 32] >> (t % 32)) & 1u) == 0; };
      // The `need` strongest candidates are the `need` smallest complemented strengths.
      const uint64_t strongest = block_select(T, need, [&](int64_t t, uint64_t& key) {
        key = ~strength(logit(t), t);
        return candidate(t);
      }, hist, st, scan);
      if (threadIdx.x == 0) running = 0;
      __syncthreads();
      for (int64_t base = 0; base < T; base += kThreads) {
        const int64_t t = base + threadIdx.x;
        const int chosen = t < T && candidate(t) && ~strength(logit(t), t) <= strongest;
        int place, total;
        BlockScan(scan).ExclusiveSum(chosen, place, total);
        if (chosen) {
          // The weight the router would give e beside the token's first choice f.
          const int entry = e * p.capacity + running + place;
          const int32_t f = p.ids[t * k];
          const float lf = p.logits[t * E + f], le = logit(t), wf = p.weights[t * k];
          p.added_tokens[entry] = int32_t(t);
          p.added_weights[entry] = p.sigmoid ? wf * sigmoid(le) / sigmoid(lf) : wf * expf(le - lf);
        }
        __syncthreads();
        if (threadIdx.x == 0) running += total;
        __syncthreads();
      }
      added = need;
      new_count = c + need;
    }
  }
  if (threadIdx.x == 0) {
    p.new_counts[e] = new_count;
    p.added_counts[e] = added;
    atomicAdd(&p.stats[0], (unsigned long long)(c > new_count ? c - new_count : 0));
    atomicAdd(&p.stats[1], (unsigned long long)added);
    atomicAdd(&p.stats[2], (unsigned long long)((m - c % m) % m));
    atomicAdd(&p.stats[3], (unsigned long long)((m - new_count % m) % m));
  }
}

struct PlaceParams {
  const int32_t* sorted_slots;  // permutation: row -> slot
  const int32_t* perm_offsets;  // permutation: [E+1]
  const uint8_t* drop_row;
  const int32_t* new_counts;
  const int32_t* added_counts;
  int64_t num_tokens;
  int num_experts, top_k, capacity;
  int32_t* offsets;             // [E+1] rounded
  int32_t* row_tokens;
  int32_t* slot_rows;
  int32_t* added_tokens;        // sentinel num_tokens written past each expert's used entries
  int32_t* added_rows;
};

// One block per expert: its rounded rows are its kept rows in token order, then its added ones.
__global__ void __launch_bounds__(kThreads) place_kernel(PlaceParams p) {
  __shared__ union {
    typename BlockReduce::TempStorage reduce;
    typename BlockScan::TempStorage scan;
  } tmp;
  __shared__ int base_sh, running;
  const int e = blockIdx.x, E = p.num_experts;
  int partial = 0;
  for (int i = threadIdx.x; i < e; i += kThreads) partial += p.new_counts[i];
  const int sum = BlockReduce(tmp.reduce).Sum(partial);
  if (threadIdx.x == 0) {
    base_sh = sum;
    running = 0;
    p.offsets[e] = sum;
    if (e == E - 1) p.offsets[E] = sum + p.new_counts[e];
  }
  __syncthreads();
  const int base = base_sh;
  const int begin = p.perm_offsets[e], c = p.perm_offsets[e + 1] - begin;
  for (int chunk = 0; chunk < c; chunk += kThreads) {
    const int i = chunk + threadIdx.x;
    const int keep = i < c && !p.drop_row[begin + i];
    int place, total;
    BlockScan(tmp.scan).ExclusiveSum(keep, place, total);
    if (i < c) {
      const int32_t slot = p.sorted_slots[begin + i];
      const int row = base + running + place;
      if (keep) p.row_tokens[row] = slot / p.top_k;
      p.slot_rows[slot] = keep ? row : -1;
    }
    __syncthreads();
    if (threadIdx.x == 0) running += total;
    __syncthreads();
  }
  const int kept = running, added = p.added_counts[e];
  for (int i = threadIdx.x; i < p.capacity; i += kThreads) {
    const int entry = e * p.capacity + i;
    if (i < added) {
      const int row = base + kept + i;
      p.row_tokens[row] = p.added_tokens[entry];
      p.added_rows[entry] = row;
    } else {
      p.added_tokens[entry] = int32_t(p.num_tokens);
    }
  }
}

__global__ void iota_kernel(int32_t* out, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = int32_t(i);
}

// The added rows' row and weight in the token order the sort found.
__global__ void follow_sort_kernel(const int32_t* sorted_entries, const int32_t* rows, const float* weights, int64_t n,
                                   int32_t* sorted_rows, float* sorted_weights) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int32_t entry = sorted_entries[i];
    sorted_rows[i] = rows[entry];
    sorted_weights[i] = weights[entry];
  }
}

unsigned grid_for(int64_t n) { return unsigned(std::clamp<int64_t>((n + 255) / 256, 1, 65535)); }

}  // namespace

int64_t TileRounder::max_added_rows(int num_experts, int64_t num_tokens, int tile_rows) {
  // An expert adds m - r < m/2 rows, and never more than there are tokens.
  return int64_t(num_experts) * std::min<int64_t>(tile_rows / 2, num_tokens);
}

TileRounder::TileRounder(Backend& backend, const ModelConfig& model, int64_t max_tokens, int max_tile_rows)
    : num_experts_(model.num_experts),
      top_k_(model.top_k),
      sigmoid_(model.scoring == ScoringFunc::sigmoid),
      max_tokens_(max_tokens),
      max_slots_(max_tokens * model.top_k) {
  per_expert_capacity_ = int(std::min<int64_t>(max_tile_rows / 2, max_tokens));
  added_capacity_ = max_added_rows(num_experts_, max_tokens, max_tile_rows);
  token_bits_ = 1;
  while ((int64_t(1) << token_bits_) <= max_tokens) ++token_bits_;
  bitmap_bytes_ = size_t((max_tokens + 31) / 32) * 4;
  if (bitmap_bytes_ > kMaxBitmapBytes)
    throw InputError("tile-rounded: at most " + std::to_string(kMaxBitmapBytes * 8) + " tokens per forward (got " +
                     std::to_string(max_tokens) + ")");
  if (bitmap_bytes_ > 48 * 1024)
    MB_CUDA_CHECK(cudaFuncSetAttribute(decide_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bitmap_bytes_)));

  const size_t E = size_t(num_experts_), cap = size_t(added_capacity_);
  new_counts_ = DeviceBuffer(backend, 2 * E * 4);  // new counts, then added counts
  offsets_ = DeviceBuffer(backend, (E + 1) * 4);
  drop_row_ = DeviceBuffer(backend, size_t(max_slots_));
  row_tokens_ = DeviceBuffer(backend, size_t(max_slots_ + added_capacity_) * 4);
  slot_rows_ = DeviceBuffer(backend, size_t(max_slots_) * 4);
  added_tokens_ = DeviceBuffer(backend, cap * 4);
  added_weights_ = DeviceBuffer(backend, cap * 4);
  added_rows_ = DeviceBuffer(backend, cap * 4);
  entry_iota_ = DeviceBuffer(backend, cap * 4);
  sorted_tokens_ = DeviceBuffer(backend, cap * 4);
  sorted_entries_ = DeviceBuffer(backend, cap * 4);
  sorted_rows_ = DeviceBuffer(backend, cap * 4);
  sorted_weights_ = DeviceBuffer(backend, cap * 4);
  stats_ = DeviceBuffer(backend, 4 * sizeof(unsigned long long));
  MB_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, sort_temp_bytes_, (const int32_t*)nullptr,
                                                (int32_t*)nullptr, (const int32_t*)nullptr, (int32_t*)nullptr,
                                                int(cap), 0, token_bits_));
  sort_temp_ = DeviceBuffer(backend, std::max<size_t>(sort_temp_bytes_, 1));
  iota_kernel<<<grid_for(int64_t(cap)), 256>>>(entry_iota_.as<int32_t>(), int64_t(cap));
  MB_CUDA_CHECK_LAUNCH();
  backend.synchronize();
}

void TileRounder::round(const float* logits, const int32_t* ids, const float* weights,
                        const ExpertPermutation& permutation, int64_t num_tokens, int tile_rows, cudaStream_t stream) {
  MB_CUDA_CHECK(cudaMemsetAsync(stats_.get(), 0, 4 * sizeof(unsigned long long), stream));
  int32_t* new_counts = new_counts_.as<int32_t>();
  int32_t* added_counts = new_counts + num_experts_;

  DecideParams d;
  d.logits = logits;
  d.ids = ids;
  d.weights = weights;
  d.sorted_slots = permutation.sorted_slots();
  d.offsets = permutation.offsets();
  d.num_tokens = num_tokens;
  d.num_experts = num_experts_;
  d.top_k = top_k_;
  d.tile = tile_rows;
  d.capacity = per_expert_capacity_;
  d.sigmoid = sigmoid_;
  d.drop_row = drop_row_.as<uint8_t>();
  d.new_counts = new_counts;
  d.added_counts = added_counts;
  d.added_tokens = added_tokens_.as<int32_t>();
  d.added_weights = added_weights_.as<float>();
  d.stats = stats_.as<unsigned long long>();
  decide_kernel<<<num_experts_, kThreads, bitmap_bytes_, stream>>>(d);
  MB_CUDA_CHECK_LAUNCH();

  PlaceParams p;
  p.sorted_slots = permutation.sorted_slots();
  p.perm_offsets = permutation.offsets();
  p.drop_row = drop_row_.as<uint8_t>();
  p.new_counts = new_counts;
  p.added_counts = added_counts;
  p.num_tokens = num_tokens;
  p.num_experts = num_experts_;
  p.top_k = top_k_;
  p.capacity = per_expert_capacity_;
  p.offsets = offsets_.as<int32_t>();
  p.row_tokens = row_tokens_.as<int32_t>();
  p.slot_rows = slot_rows_.as<int32_t>();
  p.added_tokens = added_tokens_.as<int32_t>();
  p.added_rows = added_rows_.as<int32_t>();
  place_kernel<<<num_experts_, kThreads, 0, stream>>>(p);
  MB_CUDA_CHECK_LAUNCH();

  size_t temp = sort_temp_bytes_;
  MB_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(sort_temp_.get(), temp, added_tokens_.as<int32_t>(),
                                                sorted_tokens_.as<int32_t>(), entry_iota_.as<int32_t>(),
                                                sorted_entries_.as<int32_t>(), int(added_capacity_), 0, token_bits_,
                                                stream));
  follow_sort_kernel<<<grid_for(added_capacity_), 256, 0, stream>>>(
      sorted_entries_.as<int32_t>(), added_rows_.as<int32_t>(), added_weights_.as<float>(), added_capacity_,
      sorted_rows_.as<int32_t>(), sorted_weights_.as<float>());
  MB_CUDA_CHECK_LAUNCH();
}

ExtraRows TileRounder::added_rows() const {
  ExtraRows extra;
  extra.tokens = sorted_tokens_.as<int32_t>();
  extra.rows = sorted_rows_.as<int32_t>();
  extra.weights = sorted_weights_.as<float>();
  extra.capacity = added_capacity_;
  return extra;
}

RoundingStats TileRounder::stats() const {
  unsigned long long v[4];
  MB_CUDA_CHECK(cudaMemcpy(v, stats_.get(), sizeof v, cudaMemcpyDeviceToHost));
  return {int64_t(v[0]), int64_t(v[1]), int64_t(v[2]), int64_t(v[3])};
}

}  // namespace moebench
