// Causal prefill attention on Hopper: flash-attention with wgmma (sm_90a).
//
// One CTA computes 128 queries of one head: two warpgroups of 64 rows each. Q stays in shared
// memory; K/V tiles of 128 keys stream through two shared-memory stages (cp.async, the next tile
// loading while this one is computed). Per tile, S = Q.K^T runs as wgmma with both operands in
// shared memory, the online softmax (fp32, base 2) turns S into P in registers, and O += P.V runs
// as wgmma with P from registers and V read transposed from shared memory; O accumulates in fp32
// registers. Every tile is 128-byte swizzled, the layout wgmma reads without bank conflicts.
#include "backend/cuda_check.hpp"
#include "model/cuda/attention.cuh"
#include "model/cuda/attention_primitives.cuh"
#include "model/cuda/wgmma.cuh"

namespace moebench {

namespace {

constexpr int kBlockM = 128;  // queries per CTA: two warpgroups of 64 rows
constexpr int kBlockN = 128;  // keys per K/V tile
constexpr int kThreads = 256;
constexpr int kTileRows = 128;  // rows of every shared tile (kBlockM == kBlockN)
static_assert(kBlockM == kTileRows && kBlockN == kTileRows, "Q, K and V tiles share one layout");

struct PrefillParams {
  const uint16_t* q;
  const uint16_t* k;
  const uint16_t* v;
  uint16_t* out;
  int q_len, start_pos, num_heads, num_kv_heads, max_context, group;
  float scale_log2;  // softmax_scale * log2(e)
};

// Shared memory: Q, then two stages of (K, V); each tile is 128 rows x HD, 2 bytes each.
template <int HD>
struct PrefillSmem {
  static constexpr uint32_t kTileBytes = kTileRows * HD * 2;
  static constexpr int kAlloc = 5 * kTileBytes + 1024;  // + slack to align to the swizzle period
};

// Byte offset of the 16-byte chunk `chunk` (elements 8*chunk .. 8*chunk+7) of `row` in a tile
// stored as HD/64 column blocks of 128 rows x 128 bytes, the chunk's slot XOR-ed with row % 8
// (the 128-byte swizzle; wgmma_desc_sw128 describes exactly this).
__device__ __forceinline__ uint32_t tile_chunk_offset(int row, int chunk) {
  return uint32_t((chunk >> 3) * (kTileRows * 128) + row * 128 + (((chunk & 7) ^ (row & 7)) << 4));
}

// Copies a 128-row tile (row r at src + r * row_stride) into shared memory at `dst`; rows from
// `valid_rows` on are zero-filled and not read.
template <int HD>
__device__ __forceinline__ void load_tile(uint32_t dst, const uint16_t* src, int64_t row_stride, int valid_rows) {
  constexpr int kChunks = HD / 8;
#pragma unroll
  for (int it = 0; it < kTileRows * kChunks / kThreads; ++it) {
    const int i = it * kThreads + int(threadIdx.x);
    const int row = i / kChunks, chunk = i % kChunks;
    const bool valid = row < valid_rows;
    cp_async_16(dst + tile_chunk_offset(row, chunk), src + (valid ? row * row_stride + chunk * 8 : 0), valid);
  }
}

template <typename T, int HD>
__global__ void __launch_bounds__(kThreads, 1) attention_prefill_kernel(const PrefillParams p) {
  constexpr uint32_t kTile = PrefillSmem<HD>::kTileBytes;
  extern __shared__ uint8_t smem_raw[];
  const uint32_t q_smem = (smem_u32(smem_raw) + 1023u) & ~1023u;
  // Stage s: K at q_smem + kTile * (1 + 2s), V right after it.

  // Query blocks in y, the last (longest: most keys) first; heads in x, so the first wave takes
  // the longest blocks of every head and the K/V of one group are read close together.
  const int m_block = int(gridDim.y) - 1 - int(blockIdx.y);
  const int head = blockIdx.x, batch = blockIdx.z;
  const int kv_head = head / p.group;
  const int m0 = m_block * kBlockM;
  const int q_rows = min(kBlockM, p.q_len - m0);
  const int kv_end = p.start_pos + m0 + q_rows;  // keys [0, kv_end) are visible to some row here
  const int n_tiles = (kv_end + kBlockN - 1) / kBlockN;

  const int64_t q_stride = int64_t(p.num_heads) * HD;
  const int64_t kv_stride = int64_t(p.num_kv_heads) * HD;
  const int64_t kv_offset = int64_t(batch) * p.max_context * kv_stride + int64_t(kv_head) * HD;
  const uint16_t* k = p.k + kv_offset;
  const uint16_t* v = p.v + kv_offset;

  load_tile<HD>(q_smem, p.q + (int64_t(batch) * p.q_len + m0) * q_stride + int64_t(head) * HD, q_stride, q_rows);
  load_tile<HD>(q_smem + kTile, k, kv_stride, min(kBlockN, kv_end));
  load_tile<HD>(q_smem + 2 * kTile, v, kv_stride, min(kBlockN, kv_end));
  cp_async_commit();

  const int warpgroup = int(threadIdx.x) / 128;
  const int lane = int(threadIdx.x) % 32;
  const int row0 = warpgroup * 64 + (int(threadIdx.x) % 128) / 32 * 16 + lane / 4;  // and row0 + 8
  const int qpos0 = p.start_pos + m0 + row0;
  const int col0 = 2 * (lane % 4);  // first of this thread's two columns in each 8-column block

  float o[HD / 2];  // rows row0 / row0 + 8, columns 8j + col0 (+1): o[4j + {0,1}] / o[4j + {2,3}]
  float s[kBlockN / 2];
#pragma unroll
  for (int i = 0; i < HD / 2; ++i) o[i] = 0.0f;
#pragma unroll
  for (int i = 0; i < kBlockN / 2; ++i) s[i] = 0.0f;
  float row_max[2] = {-INFINITY, -INFINITY};  // in log2 units (scaled)
  float row_sum[2] = {0.0f, 0.0f};            // this thread's columns only; summed over the quad at the end

  for (int t = 0; t < n_tiles; ++t) {
    cp_async_wait<0>();
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // cp.async writes -> wgmma reads
    __syncthreads();  // tile t is in for everyone, and every warp is done with tile t-1's stage
    if (t + 1 < n_tiles) {
      const uint32_t next = q_smem + kTile * (1 + 2 * ((t + 1) & 1));
      const int first = (t + 1) * kBlockN;
      load_tile<HD>(next, k + first * kv_stride, kv_stride, min(kBlockN, kv_end - first));
      load_tile<HD>(next + kTile, v + first * kv_stride, kv_stride, min(kBlockN, kv_end - first));
    }
    cp_async_commit();
    const uint32_t k_smem = q_smem + kTile * (1 + 2 * (t & 1));
    const uint32_t v_smem = k_smem + kTile;

    // S = Q . K^T: both K-major; each k-step of 16 elements is 32 bytes further along a row.
    wgmma_fence_registers(s);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < HD / 16; ++kk) {
      const uint32_t k_off = (kk / 4) * (kTileRows * 128) + (kk % 4) * 32;
      wgmma_ss_m64n128k16<T>(s, wgmma_desc_sw128(q_smem + warpgroup * 64 * 128 + k_off, 16, 1024),
                             wgmma_desc_sw128(k_smem + k_off, 16, 1024), kk > 0);
    }
    wgmma_commit();
    wgmma_wait<0>();
    wgmma_fence_registers(s);

    // Causal mask, only on tiles that reach past the first row's position. Keys at or past
    // kv_end lie past every real row's position too (their K/V were zero-filled).
    const int n0 = t * kBlockN;
    if (n0 + kBlockN - 1 > p.start_pos + m0) {
#pragma unroll
      for (int j = 0; j < kBlockN / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (n0 + 8 * j + col0 + (e & 1) > qpos0 + 8 * (e >> 1)) s[4 * j + e] = -INFINITY;
    }

    // Online softmax: rescale what O and the sums hold to the new row maximum, then P = exp2(S - max).
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float tile_max = -INFINITY;
#pragma unroll
      for (int j = 0; j < kBlockN / 8; ++j) tile_max = fmaxf(tile_max, fmaxf(s[4 * j + 2 * r], s[4 * j + 2 * r + 1]));
      const float new_max = fmaxf(row_max[r], quad_max(tile_max) * p.scale_log2);
      const float offset = softmax_offset(new_max);
      const float correction = fast_exp2(row_max[r] - offset);
      row_max[r] = new_max;
      row_sum[r] *= correction;
#pragma unroll
      for (int j = 0; j < HD / 8; ++j) {
        o[4 * j + 2 * r] *= correction;
        o[4 * j + 2 * r + 1] *= correction;
      }
#pragma unroll
      for (int j = 0; j < kBlockN / 8; ++j) {
        s[4 * j + 2 * r] = fast_exp2(s[4 * j + 2 * r] * p.scale_log2 - offset);
        s[4 * j + 2 * r + 1] = fast_exp2(s[4 * j + 2 * r + 1] * p.scale_log2 - offset);
        row_sum[r] += s[4 * j + 2 * r] + s[4 * j + 2 * r + 1];
      }
    }

    // P as the A fragments of 16-key steps: step kk holds S columns 16kk .. 16kk+15, which are
    // accumulator blocks 2kk and 2kk+1 (the accumulator and A-fragment layouts coincide).
    uint32_t pa[kBlockN / 16][4];
#pragma unroll
    for (int kk = 0; kk < kBlockN / 16; ++kk)
#pragma unroll
      for (int r = 0; r < 4; ++r) pa[kk][r] = pack_half2<T>(s[8 * kk + 2 * r], s[8 * kk + 2 * r + 1]);

    // O += P . V: V is MN-major for this product (head_dim contiguous); 16 keys are 16 rows.
    wgmma_fence_registers(o);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kBlockN / 16; ++kk) {
      const uint64_t desc_v = wgmma_desc_sw128(v_smem + kk * 16 * 128, kTileRows * 128, 1024);
      if constexpr (HD == 128)
        wgmma_rs_m64n128k16<T>(o, pa[kk], desc_v);
      else
        wgmma_rs_m64n64k16<T>(o, pa[kk], desc_v);
    }
    wgmma_commit();
    wgmma_wait<0>();
    wgmma_fence_registers(o);
  }

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float sum = quad_sum(row_sum[r]);  // every lane of the quad takes part
    const int row = row0 + 8 * r;
    if (row >= q_rows) continue;
    const float inv = 1.0f / sum;  // sum > 0: key 0 is visible to every query
    uint16_t* dst = p.out + ((int64_t(batch) * p.q_len + m0 + row) * p.num_heads + head) * HD + col0;
#pragma unroll
    for (int j = 0; j < HD / 8; ++j)
      *reinterpret_cast<uint32_t*>(dst + 8 * j) = pack_half2<T>(o[4 * j + 2 * r] * inv, o[4 * j + 2 * r + 1] * inv);
  }
}

template <typename T, int HD>
void launch_prefill(const PrefillParams& p, int batch, cudaStream_t stream) {
  constexpr int kSmem = PrefillSmem<HD>::kAlloc;
  static const bool configured = [] {
    MB_CUDA_CHECK(cudaFuncSetAttribute(attention_prefill_kernel<T, HD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       kSmem));
    return true;
  }();
  (void)configured;
  const dim3 grid(unsigned(p.num_heads), unsigned((p.q_len + kBlockM - 1) / kBlockM), unsigned(batch));
  attention_prefill_kernel<T, HD><<<grid, kThreads, kSmem, stream>>>(p);
  MB_CUDA_CHECK_LAUNCH();
}

}  // namespace

void attention_prefill(const void* q, const void* k_cache, const void* v_cache, void* out,
                       const AttentionShape& shape, int q_len, int start_pos, DType dtype, cudaStream_t stream) {
  check_attention_shape(shape, "attention_prefill");
  check_attention_dtype(dtype, "attention_prefill");
  if (q_len < 1 || start_pos < 0 || int64_t(start_pos) + q_len > shape.max_context)
    throw InputError("attention_prefill: need q_len >= 1, start_pos >= 0 and start_pos + q_len <= max_context (got " +
                     std::to_string(q_len) + ", " + std::to_string(start_pos) + ", " +
                     std::to_string(shape.max_context) + ")");
  if (shape.batch > 65535 || (q_len + kBlockM - 1) / kBlockM > 65535)
    throw InputError("attention_prefill: batch and q_len / 128 must be <= 65535");
  PrefillParams p{static_cast<const uint16_t*>(q),
                  static_cast<const uint16_t*>(k_cache),
                  static_cast<const uint16_t*>(v_cache),
                  static_cast<uint16_t*>(out),
                  q_len,
                  start_pos,
                  shape.num_heads,
                  shape.num_kv_heads,
                  shape.max_context,
                  shape.num_heads / shape.num_kv_heads,
                  shape.softmax_scale * kLog2e};
  const bool fp16 = dtype == DType::fp16;
  if (shape.head_dim == 128)
    fp16 ? launch_prefill<__half, 128>(p, shape.batch, stream) : launch_prefill<__nv_bfloat16, 128>(p, shape.batch, stream);
  else
    fp16 ? launch_prefill<__half, 64>(p, shape.batch, stream) : launch_prefill<__nv_bfloat16, 64>(p, shape.batch, stream);
}

}  // namespace moebench
