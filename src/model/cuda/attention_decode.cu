// Decode attention (flash-decoding): one query token per sequence over its cached context.
//
// Memory bound: every cached K/V byte of the batch is read once. The context is split into
// chunks; one CTA handles one (sequence, kv head, chunk) and up to 16 query heads of that kv
// head's group at once (GQA: K/V read once per group), as the 16 rows of m16n8k16 tensor-core
// products. K/V tiles of 64 keys stream through a 3-stage cp.async pipeline (16-byte loads);
// each of the 4 warps takes 16 keys of a tile with its own online softmax, the warps merge at
// the end, and the CTA writes its chunk's unnormalised output with its (max, sum). A second
// kernel combines the chunks. The launch shape depends only on AttentionShape: context_lens is
// read on the device, so a recorded CUDA graph replays correctly as the contexts grow.
//
// attention_decode_qkv() starts from the new token's q/k/v projection instead: each CTA puts
// its query heads through the QK-norm and RoPE itself (a few KB, while its first tiles load),
// and the CTAs whose chunk holds the new position also the new key and value, which they place
// into their shared-memory tile and (one CTA per kv head) into the cache. That removes the
// separate cache-write kernel from every layer of a decode step.
#include <algorithm>
#include <type_traits>

#include "backend/cuda_check.hpp"
#include "backend/cuda_launch.cuh"
#include "model/cuda/attention.cuh"
#include "model/cuda/attention_primitives.cuh"
#include "model/model_ops.hpp"  // rope_angle

namespace moebench {

namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kTileKeys = 64;  // keys per pipeline stage; warp w takes keys [16w, 16w + 16)
constexpr int kStages = 3;
constexpr int kHeadsPerCta = 16;     // the M of m16n8k16
// Below this the per-CTA start and the partials cost more than they split. (128 was tried for
// batch 1, 4 KV heads, 4352 keys: 68 -> 136 CTAs, split 7.8 -> 6.8 us but combine 3.1 -> 3.8 us.)
constexpr int kMinChunkKeys = 256;
constexpr int kCtasPerSm = 2;        // what the shared memory allows at head_dim 128

struct DecodePlan {
  int head_groups = 1;  // CTAs per kv head: ceil(group / 16)
  int chunks = 1;
  int chunk_len = 0;  // keys per chunk, a multiple of kTileKeys
};

// Enough chunks that the CTAs fill the GPU once (kCtasPerSm per SM), none shorter than
// kMinChunkKeys. Depends on the shape and the SM count only, never on the contexts.
DecodePlan decode_plan(const AttentionShape& s) {
  DecodePlan plan;
  const int group = s.num_heads / s.num_kv_heads;
  plan.head_groups = (group + kHeadsPerCta - 1) / kHeadsPerCta;
  const int64_t units = int64_t(s.batch) * s.num_kv_heads * plan.head_groups;
  const int64_t target = int64_t(kCtasPerSm) * current_device_sm_count();
  const int64_t most = std::max<int64_t>(1, s.max_context / kMinChunkKeys);
  const int64_t chunks = std::clamp<int64_t>((target + units - 1) / units, 1, most);
  const int64_t per_chunk = (s.max_context + chunks - 1) / chunks;
  plan.chunk_len = int((per_chunk + kTileKeys - 1) / kTileKeys * kTileKeys);
  plan.chunks = int((s.max_context + plan.chunk_len - 1) / plan.chunk_len);
  return plan;
}

struct DecodeParams {
  const uint16_t* q;
  const uint16_t* k;
  const uint16_t* v;
  uint16_t* out;
  const int32_t* context_lens;
  float* partial_o;    // [batch][num_heads][chunks][head_dim], unnormalised
  float2* partial_ml;  // [batch][num_heads][chunks]: (max in log2 units, sum of exp2)
  int num_heads, num_kv_heads, group, head_groups, max_context, chunks, chunk_len;
  float scale_log2;
  // attention_decode_qkv only (qkv null otherwise): the new tokens' projection
  // [batch][(num_heads + 2 num_kv_heads) * head_dim], the QK-norm weights (or null), and the
  // caches to write the new key and value into (the same memory as k and v).
  const uint16_t* qkv = nullptr;
  const uint16_t* q_norm = nullptr;
  const uint16_t* k_norm = nullptr;
  uint16_t* k_out = nullptr;
  uint16_t* v_out = nullptr;
  float rope_theta = 0.0f, eps = 0.0f;
};

__device__ __forceinline__ int context_of(const DecodeParams& p, int batch) {
  return min(max(p.context_lens[batch], 0), p.max_context);
}

template <typename T>
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T, __half>)
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  else
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Four 8x8 16-bit matrices; lanes 8i .. 8i+7 give the row addresses of matrix i.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

template <int HD>
struct DecodeSmem {
  static constexpr int kPitch = HD + 8;  // elements per row: +16 bytes so ldmatrix rows hit distinct banks
  static constexpr int kTileElems = kTileKeys * kPitch;          // one of K or V
  static constexpr int kBytes = kStages * 2 * kTileElems * 2;    // the pipeline
  static constexpr int kMergeBytes = kWarps * kHeadsPerCta * (HD + 2) * 4;  // reuses it at the end
  static_assert(kMergeBytes <= kBytes, "the warp merge fits in the pipeline's shared memory");
};

template <typename T>
constexpr DType kDtypeOf = std::is_same_v<T, __half> ? DType::fp16 : DType::bf16;

// E 16-bit elements (E = 2 or 4) in one load.
template <int E>
__device__ __forceinline__ void load_elements(const uint16_t* src, uint16_t (&out)[E]) {
  if constexpr (E == 4) {
    const uint2 v = *reinterpret_cast<const uint2*>(src);
    memcpy(out, &v, 8);
  } else {
    const uint32_t v = *reinterpret_cast<const uint32_t*>(src);
    memcpy(out, &v, 4);
  }
}

// attention_decode_qkv's prologue, by the CTA's warps: the query heads [head0, head0 + heads)
// of the projection row `row` (and, with `with_new`, kv head `kv_head`'s new key and value) into
// shared memory, the query heads and the key through the per-head RMSNorm (where the weights are
// given) and RoPE at `position`, each step rounded to the dtype as qkv_to_cache does. Row r of
// heads + 2 goes to warp r % kWarps; lane l holds elements [E l, E l + E) of it, and the RoPE
// partner of element i (i + HD / 2) sits in lane l ^ 16. The norm weights and the rotation's
// cos/sin (the same for every row, computed once) come before the chained wait, which it makes
// (the projection is the previous kernel's output); then every row's load is issued before any
// arithmetic.
template <typename T, int HD>
__device__ __forceinline__ void project_rows(const DecodeParams& p, const uint16_t* row, int head0, int heads,
                                             int kv_head, bool with_new, int position, uint16_t (*q_rows)[HD],
                                             uint16_t (*new_kv)[HD]) {
  constexpr int E = HD / 32;
  constexpr int kMostRows = (kHeadsPerCta + 2 + kWarps - 1) / kWarps;
  constexpr DType dt = kDtypeOf<T>;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  const int rows = heads + (with_new ? 2 : 0);
  auto source = [&](int r) -> const uint16_t* {
    const int head = r < heads ? head0 + r : p.num_heads + (r == heads ? 0 : p.num_kv_heads) + kv_head;
    return row + int64_t(head) * HD + E * lane;
  };
  uint16_t raw[kMostRows][E], q_norm[E], k_norm[E];
  if (p.q_norm) load_elements<E>(p.q_norm + E * lane, q_norm);
  if (p.k_norm) load_elements<E>(p.k_norm + E * lane, k_norm);
  float c[E], s[E];
#pragma unroll
  for (int j = 0; j < E; ++j) {
    const float angle = rope_angle(position, (E * lane + j) % (HD / 2), HD, p.rope_theta);
    c[j] = cosf(angle);
    s[j] = sinf(angle);
  }
  wait_for_prior_kernels();
#pragma unroll
  for (int i = 0; i < kMostRows; ++i)
    if (warp + i * kWarps < rows) load_elements<E>(source(warp + i * kWarps), raw[i]);
#pragma unroll
  for (int i = 0; i < kMostRows; ++i) {
    const int r = warp + i * kWarps;  // uniform across the warp
    if (r >= rows) break;
    uint16_t* dst = (r < heads ? q_rows[r] : new_kv[r - heads]) + E * lane;
    if (r == heads + 1) {  // the value: as projected
#pragma unroll
      for (int j = 0; j < E; ++j) dst[j] = raw[i][j];
      continue;
    }
    const bool is_q = r < heads;
    float x[E];
#pragma unroll
    for (int j = 0; j < E; ++j) x[j] = half_bits_to_float(raw[i][j], dt);
    if (is_q ? p.q_norm != nullptr : p.k_norm != nullptr) {
      float ss = 0.0f;
#pragma unroll
      for (int j = 0; j < E; ++j) ss += x[j] * x[j];
      ss = warp_sum(ss);
      const float rs = 1.0f / sqrtf(ss / float(HD) + p.eps);
#pragma unroll
      for (int j = 0; j < E; ++j)
        x[j] = round_to_dtype(x[j] * rs * half_bits_to_float(is_q ? q_norm[j] : k_norm[j], dt), dt);
    }
#pragma unroll
    for (int j = 0; j < E; ++j) {
      const float other = __shfl_xor_sync(0xffffffffu, x[j], 16);
      dst[j] = float_to_half_bits(lane < 16 ? x[j] * c[j] - other * s[j] : x[j] * c[j] + other * s[j], dt);
    }
  }
}

// The new key and value (new_kv[0], new_kv[1]) to k and v, 16 bytes per thread.
template <int HD>
__device__ __forceinline__ void copy_new_kv(const uint16_t (*new_kv)[HD], uint16_t* k, uint16_t* v) {
  for (int i = int(threadIdx.x); i < 2 * HD / 8; i += kThreads) {
    const int which = i / (HD / 8), c = i % (HD / 8);
    *reinterpret_cast<uint4*>((which == 0 ? k : v) + 8 * c) = *reinterpret_cast<const uint4*>(&new_kv[which][8 * c]);
  }
}

template <typename T, int HD>
__global__ void __launch_bounds__(kThreads) attention_decode_split_kernel(const DecodeParams p) {
  using Smem = DecodeSmem<HD>;
  constexpr int kPitch = Smem::kPitch;
  extern __shared__ __align__(16) uint16_t smem[];
  // attention_decode_qkv waits later (project_rows), after issuing the loads that do not depend
  // on the kernel before it: its context length, this chunk's cached keys and values, the norm
  // weights. In a decode step they were all written by earlier steps (the context by the last
  // one's advance_positions; positions below the new one by earlier steps' attention), final
  // once the projection before this kernel started. attention_decode waits here: its caller may
  // have written anything just before.
  if (!p.qkv) wait_for_prior_kernels();

  const int chunk = blockIdx.x;
  const int kv_head = int(blockIdx.y) / p.head_groups, head_group = int(blockIdx.y) % p.head_groups;
  const int batch = blockIdx.z;
  const int context = context_of(p, batch);
  const int key_begin = chunk * p.chunk_len;
  if (key_begin >= context) return;  // the combine reads only the chunks that hold keys
  const int key_end = min(key_begin + p.chunk_len, context);
  const int n_tiles = (key_end - key_begin + kTileKeys - 1) / kTileKeys;

  const int64_t kv_stride = int64_t(p.num_kv_heads) * HD;
  const int64_t kv_offset = (int64_t(batch) * p.max_context + key_begin) * kv_stride + int64_t(kv_head) * HD;
  const uint16_t* k = p.k + kv_offset;
  const uint16_t* v = p.v + kv_offset;

  // Tile `tile` of the chunk into stage `stage`; keys past the chunk's end are zero-filled.
  auto load_tile = [&](int tile, int stage) {
    constexpr int kChunks = HD / 8;
    uint16_t* ks = smem + stage * 2 * Smem::kTileElems;
    uint16_t* vs = ks + Smem::kTileElems;
    const int first = tile * kTileKeys;
    const int valid = min(kTileKeys, key_end - key_begin - first);
#pragma unroll
    for (int it = 0; it < kTileKeys * kChunks / kThreads; ++it) {
      const int i = it * kThreads + int(threadIdx.x);
      const int row = i / kChunks, c = i % kChunks;
      const bool ok = row < valid;
      const int64_t src = ok ? int64_t(first + row) * kv_stride + c * 8 : 0;
      cp_async_16(smem_u32(ks + row * kPitch + c * 8), k + src, ok);
      cp_async_16(smem_u32(vs + row * kPitch + c * 8), v + src, ok);
    }
  };
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < n_tiles) load_tile(s, s);
    cp_async_commit();
  }

  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  const int g = lane / 4, tq = lane % 4;  // fragment row (and row + 8), column pair 2tq
  const int head0 = kv_head * p.group + head_group * kHeadsPerCta;
  const int heads = min(kHeadsPerCta, p.group - head_group * kHeadsPerCta);

  // attention_decode_qkv: the query heads, and the new key and value where this chunk holds
  // their position (context - 1), from the projection, while the first tiles load.
  __shared__ __align__(16) uint16_t q_rows[kHeadsPerCta][HD];
  __shared__ __align__(16) uint16_t new_kv[2][HD];
  const int new_pos = context - 1;
  const bool holds_new = p.qkv && new_pos >= key_begin && new_pos < key_end;
  if (p.qkv) {
    project_rows<T, HD>(p, p.qkv + int64_t(batch) * (p.num_heads + 2 * p.num_kv_heads) * HD, head0, heads, kv_head,
                        holds_new, new_pos, q_rows, new_kv);
    __syncthreads();
    if (holds_new && head_group == 0) {  // one CTA per kv head writes the cache
      const int64_t slot = (int64_t(batch) * p.max_context + new_pos) * kv_stride + int64_t(kv_head) * HD;
      copy_new_kv<HD>(new_kv, p.k_out + slot, p.v_out + slot);
    }
  }

  // Q as m16n8k16 A fragments: row = query head, k = head_dim; rows past the group are zero.
  const uint16_t* q = (p.qkv ? &q_rows[0][0] : p.q + (int64_t(batch) * p.num_heads + head0) * HD) + 2 * tq;
  uint32_t qa[HD / 16][4];
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk)
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int row = g + 8 * (r & 1);
      qa[kk][r] = row < heads ? *reinterpret_cast<const uint32_t*>(q + row * HD + 16 * kk + 8 * (r >> 1)) : 0u;
    }

  float o[HD / 8][4];  // rows g / g+8 (heads), columns 8n + 2tq (+1)
#pragma unroll
  for (int n = 0; n < HD / 8; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e) o[n][e] = 0.0f;
  float row_max[2] = {-INFINITY, -INFINITY};  // log2 units
  float row_sum[2] = {0.0f, 0.0f};            // this thread's columns; summed over the quad at the end
  const int mat = lane / 8, mat_row = lane % 8;  // ldmatrix: which 8x8 matrix this lane addresses

  for (int t = 0; t < n_tiles; ++t) {
    cp_async_wait<kStages - 2>();
    __syncthreads();  // tile t is in for everyone, and everyone is done with the stage refilled next
    if (holds_new && (new_pos - key_begin) / kTileKeys == t) {
      // The new key and value replace what the cache held at their position (not written yet).
      uint16_t* stage = smem + (t % kStages) * 2 * Smem::kTileElems + ((new_pos - key_begin) % kTileKeys) * kPitch;
      copy_new_kv<HD>(new_kv, stage, stage + Smem::kTileElems);
      __syncthreads();
    }
    if (t + kStages - 1 < n_tiles) load_tile(t + kStages - 1, (t + kStages - 1) % kStages);
    cp_async_commit();
    const uint16_t* ks = smem + (t % kStages) * 2 * Smem::kTileElems + warp * 16 * kPitch;
    const uint16_t* vs = ks + Smem::kTileElems;

    // S = Q . K^T over this warp's 16 keys: two n8 blocks. Matrices: (keys 0-7 | 8-15) x (d lo | hi).
    float s[2][4] = {};
#pragma unroll
    for (int kk = 0; kk < HD / 16; ++kk) {
      uint32_t b[4];
      ldmatrix_x4(b, smem_u32(ks + ((mat >> 1) * 8 + mat_row) * kPitch + 16 * kk + (mat & 1) * 8));
      mma_16816<T>(s[0], qa[kk], b[0], b[1]);
      mma_16816<T>(s[1], qa[kk], b[2], b[3]);
    }

    const int key0 = key_begin + t * kTileKeys + warp * 16 + 2 * tq;
#pragma unroll
    for (int n = 0; n < 2; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        if (key0 + 8 * n + (e & 1) >= key_end) s[n][e] = -INFINITY;

#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float tile_max = fmaxf(fmaxf(s[0][2 * r], s[0][2 * r + 1]), fmaxf(s[1][2 * r], s[1][2 * r + 1]));
      const SoftmaxStep step = online_softmax_step(tile_max, p.scale_log2, row_max[r], row_sum[r]);
#pragma unroll
      for (int n = 0; n < HD / 8; ++n) {
        o[n][2 * r] *= step.correction;
        o[n][2 * r + 1] *= step.correction;
      }
#pragma unroll
      for (int n = 0; n < 2; ++n) {
        s[n][2 * r] = fast_exp2(s[n][2 * r] * p.scale_log2 - step.offset);
        s[n][2 * r + 1] = fast_exp2(s[n][2 * r + 1] * p.scale_log2 - step.offset);
        row_sum[r] += s[n][2 * r] + s[n][2 * r + 1];
      }
    }

    // O += P . V: P (16 heads x 16 keys) is one A fragment; V read transposed, two n8 blocks
    // of head_dim per ldmatrix. Matrices: (keys 0-7 | 8-15) x (d lo | hi).
    const uint32_t pa[4] = {pack_half2<T>(s[0][0], s[0][1]), pack_half2<T>(s[0][2], s[0][3]),
                            pack_half2<T>(s[1][0], s[1][1]), pack_half2<T>(s[1][2], s[1][3])};
#pragma unroll
    for (int dn = 0; dn < HD / 16; ++dn) {
      uint32_t b[4];
      ldmatrix_x4_trans(b, smem_u32(vs + ((mat & 1) * 8 + mat_row) * kPitch + 16 * dn + (mat >> 1) * 8));
      mma_16816<T>(o[2 * dn], pa, b[0], b[1]);
      mma_16816<T>(o[2 * dn + 1], pa, b[2], b[3]);
    }
  }

  allow_next_kernels();  // the combine may launch: only the merge and the stores are left
  // Merge the four warps through shared memory (the pipeline is drained first).
  cp_async_wait<0>();
  __syncthreads();
  float* merge_o = reinterpret_cast<float*>(smem);                 // [warp][16 rows][HD]
  float* merge_ml = merge_o + kWarps * kHeadsPerCta * HD;          // [warp][16 rows][max, sum]
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = warp * kHeadsPerCta + g + 8 * r;
    const float sum = quad_sum(row_sum[r]);
#pragma unroll
    for (int n = 0; n < HD / 8; ++n)
      *reinterpret_cast<float2*>(merge_o + row * HD + 8 * n + 2 * tq) = make_float2(o[n][2 * r], o[n][2 * r + 1]);
    if (tq == 0) {
      merge_ml[2 * row] = row_max[r];
      merge_ml[2 * row + 1] = sum;
    }
  }
  __syncthreads();
  for (int i = int(threadIdx.x); i < heads * HD; i += kThreads) {
    const int row = i / HD, d = i % HD;
    float chunk_max = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) chunk_max = fmaxf(chunk_max, merge_ml[2 * (w * kHeadsPerCta + row)]);
    const float offset = softmax_offset(chunk_max);  // finite: the chunk holds at least one key
    float acc = 0.0f, sum = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const int wr = w * kHeadsPerCta + row;
      const float f = fast_exp2(merge_ml[2 * wr] - offset);
      acc += f * merge_o[wr * HD + d];
      sum += f * merge_ml[2 * wr + 1];
    }
    const int64_t slot = (int64_t(batch) * p.num_heads + head0 + row) * p.chunks + chunk;
    p.partial_o[slot * HD + d] = acc;
    if (d == 0) p.partial_ml[slot] = make_float2(chunk_max, sum);
  }
}

// One CTA of HD threads per (head, sequence): out = sum_c 2^(m_c - M) O_c / sum_c 2^(m_c - M) l_c
// over the chunks that hold keys. The chunks are read kCombineBatch at a time, all loads of a
// batch issued together (one round trip to L2 for up to 32 chunks, where a pass for the maxima
// and then one for the sums took two), the running sums rescaled between batches.
//
// It never lets the next kernel launch early (no allow_next_kernels(): the launch comes at its
// exit). The next kernel is the O projection, a skinny GEMM whose 512 blocks of 4 rows fill an
// H100 once, 4 blocks per SM (all of the registers); launched early, some of them met an SM
// still holding a combine CTA, did not fit and ran as a second wave. Measured on an H100
// (qwen3-30b-a3b, input 4096): decode TPOT at batch 1 3.31 -> 3.26 ms, batch 2 5.25 -> 5.17.
constexpr int kCombineBatch = 32;

template <typename T, int HD>
__global__ void __launch_bounds__(HD) attention_decode_combine_kernel(const DecodeParams p) {
  const int head = blockIdx.x, batch = blockIdx.y, d = threadIdx.x;
  // The context before the wait, so that its round trip is not in the chain after it: the split
  // kernel before this one does not write it, and whatever kernel wrote it before the split had
  // completed when the split let this kernel launch (after its own wait).
  const int context = context_of(p, batch);
  wait_for_prior_kernels();
  const int used = min(p.chunks, (context + p.chunk_len - 1) / p.chunk_len);
  const int64_t slot0 = (int64_t(batch) * p.num_heads + head) * p.chunks;
  float max_all = -INFINITY, acc = 0.0f, sum = 0.0f;
  for (int c0 = 0; c0 < used; c0 += kCombineBatch) {
    float2 ml[kCombineBatch];
    float o[kCombineBatch];
#pragma unroll
    for (int j = 0; j < kCombineBatch; ++j)
      if (c0 + j < used) {
        ml[j] = p.partial_ml[slot0 + c0 + j];
        o[j] = p.partial_o[(slot0 + c0 + j) * HD + d];
      }
    float batch_max = max_all;
#pragma unroll
    for (int j = 0; j < kCombineBatch; ++j)
      if (c0 + j < used) batch_max = fmaxf(batch_max, ml[j].x);
    const float rescale = fast_exp2(max_all - batch_max);  // 0 for the first batch: nothing to rescale
    acc *= rescale;
    sum *= rescale;
#pragma unroll
    for (int j = 0; j < kCombineBatch; ++j)
      if (c0 + j < used) {
        const float f = fast_exp2(ml[j].x - batch_max);
        acc += f * o[j];
        sum += f * ml[j].y;
      }
    max_all = batch_max;
  }
  // An empty context (0 keys) has no softmax: write zeros rather than 0/0.
  const float value = used > 0 ? acc / sum : 0.0f;
  p.out[(int64_t(batch) * p.num_heads + head) * HD + d] = half_bits<T>(value);
}

template <typename T, int HD>
void launch_decode(const DecodeParams& p, const DecodePlan& plan, int batch, cudaStream_t stream) {
  constexpr int kSmem = DecodeSmem<HD>::kBytes;
  static std::atomic<uint64_t> devices_done{0};
  raise_smem_limit_once(reinterpret_cast<const void*>(&attention_decode_split_kernel<T, HD>), kSmem, devices_done);
  const dim3 split_grid(unsigned(plan.chunks), unsigned(p.num_kv_heads * plan.head_groups), unsigned(batch));
  launch_chained(attention_decode_split_kernel<T, HD>, split_grid, kThreads, kSmem, stream, p);
  launch_chained(attention_decode_combine_kernel<T, HD>, dim3(unsigned(p.num_heads), unsigned(batch)), HD, 0, stream, p);
}

}  // namespace

size_t attention_decode_workspace_bytes(const AttentionShape& shape) {
  check_attention_shape(shape, "attention_decode_workspace_bytes");
  const DecodePlan plan = decode_plan(shape);
  return size_t(shape.batch) * shape.num_heads * plan.chunks * (size_t(shape.head_dim) * 4 + sizeof(float2));
}

namespace {

// Checks the call and fills the parameters both entry points share.
DecodeParams decode_params(const void* q, const void* k_cache, const void* v_cache, void* out,
                           const int32_t* context_lens, const AttentionShape& shape, DType dtype, void* workspace,
                           const DecodePlan& plan, const char* who) {
  check_attention_shape(shape, who);
  check_attention_dtype(dtype, who);
  if (!workspace || !context_lens) throw InputError(std::string(who) + ": workspace and context_lens must be given");
  if (shape.batch > 65535 || int64_t(shape.num_kv_heads) * ((shape.num_heads / shape.num_kv_heads + 15) / 16) > 65535)
    throw InputError(std::string(who) + ": batch and num_kv_heads * ceil(group / 16) must be <= 65535");
  float* partial_o = static_cast<float*>(workspace);
  const size_t slots = size_t(shape.batch) * shape.num_heads * plan.chunks;
  DecodeParams p{static_cast<const uint16_t*>(q),
                 static_cast<const uint16_t*>(k_cache),
                 static_cast<const uint16_t*>(v_cache),
                 static_cast<uint16_t*>(out),
                 context_lens,
                 partial_o,
                 reinterpret_cast<float2*>(partial_o + slots * shape.head_dim),
                 shape.num_heads,
                 shape.num_kv_heads,
                 shape.num_heads / shape.num_kv_heads,
                 plan.head_groups,
                 shape.max_context,
                 plan.chunks,
                 plan.chunk_len,
                 shape.softmax_scale * kLog2e};
  return p;
}

void launch_for_dtype(const DecodeParams& p, const DecodePlan& plan, const AttentionShape& shape, DType dtype,
                      cudaStream_t stream) {
  const bool fp16 = dtype == DType::fp16;
  if (shape.head_dim == 128)
    fp16 ? launch_decode<__half, 128>(p, plan, shape.batch, stream)
         : launch_decode<__nv_bfloat16, 128>(p, plan, shape.batch, stream);
  else
    fp16 ? launch_decode<__half, 64>(p, plan, shape.batch, stream)
         : launch_decode<__nv_bfloat16, 64>(p, plan, shape.batch, stream);
}

}  // namespace

void attention_decode(const void* q, const void* k_cache, const void* v_cache, void* out,
                      const int32_t* context_lens, const AttentionShape& shape, DType dtype, void* workspace,
                      cudaStream_t stream) {
  if (!q) throw InputError("attention_decode: q must be given");
  const DecodePlan plan = decode_plan(shape);
  const DecodeParams p =
      decode_params(q, k_cache, v_cache, out, context_lens, shape, dtype, workspace, plan, "attention_decode");
  launch_for_dtype(p, plan, shape, dtype, stream);
}

void attention_decode_qkv(const DecodeQkv& in, void* k_cache, void* v_cache, void* out, const int32_t* context_lens,
                          const AttentionShape& shape, DType dtype, void* workspace, cudaStream_t stream) {
  if (!in.qkv) throw InputError("attention_decode_qkv: qkv must be given");
  const DecodePlan plan = decode_plan(shape);
  DecodeParams p = decode_params(nullptr, k_cache, v_cache, out, context_lens, shape, dtype, workspace, plan,
                                 "attention_decode_qkv");
  p.qkv = static_cast<const uint16_t*>(in.qkv);
  p.q_norm = static_cast<const uint16_t*>(in.q_norm);
  p.k_norm = static_cast<const uint16_t*>(in.k_norm);
  p.k_out = static_cast<uint16_t*>(k_cache);
  p.v_out = static_cast<uint16_t*>(v_cache);
  p.rope_theta = in.rope_theta;
  p.eps = in.eps;
  launch_for_dtype(p, plan, shape, dtype, stream);
}

}  // namespace moebench
