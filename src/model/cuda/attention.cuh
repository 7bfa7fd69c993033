#pragma once
// The attention kernels of the end-to-end model benchmark: causal prefill (flash-attention,
// tensor cores) and split-K decode (flash-decoding) over one layer's K/V cache.
#include <cstddef>
#include <cstdint>
#include <cuda_runtime.h>

#include "core/dtype.hpp"

namespace moebench {

// Layouts (elements of `dtype`, bf16 or fp16; row-major, innermost last):
//   q, out      [batch][q_len][num_heads][head_dim]
//   k/v cache   [batch][max_context][num_kv_heads][head_dim]   (one layer's cache)
// GQA: query head h reads kv head h / (num_heads / num_kv_heads).
struct AttentionShape {
  int batch = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;        // 64 and 128 must be supported (qwen3: 128, gpt-oss: 64)
  int max_context = 0;     // cache capacity per sequence
  float softmax_scale = 0; // usually 1/sqrt(head_dim)
};

// Prefill: causal attention of q_len new tokens per sequence, which sit at positions
// [start_pos, start_pos + q_len) and whose K/V are already written into the cache; keys are
// cache positions [0, start_pos + q_len). start_pos is a host value (prefill is not graph-replayed).
void attention_prefill(const void* q, const void* k_cache, const void* v_cache, void* out,
                       const AttentionShape& shape, int q_len, int start_pos, DType dtype,
                       cudaStream_t stream);

// Decode: one query token per sequence over cache positions [0, context_lens[b]), where
// context_lens is a DEVICE array (so a CUDA graph can be replayed as the context grows; no host
// sync inside). Split-K (flash-decoding) with partial results in `workspace`.
size_t attention_decode_workspace_bytes(const AttentionShape& shape);
void attention_decode(const void* q, const void* k_cache, const void* v_cache, void* out,
                      const int32_t* context_lens, const AttentionShape& shape, DType dtype,
                      void* workspace, cudaStream_t stream);

// Decode from the new tokens' projection, the cache write included: for each sequence b, with
// pos = context_lens[b] - 1, the query heads and the key of qkv[b] ([batch][(num_heads + 2
// num_kv_heads) * head_dim]: q heads, k heads, v heads) go through the per-head RMSNorm
// (q_norm / k_norm: [head_dim] weights, or null for none) and RoPE at pos (rope_angle), the key
// and value are written into the caches at pos, and the query attends to positions
// [0, context_lens[b]). The same result as qkv_to_cache (ModelOps) followed by attention_decode,
// in the decode kernels alone. The workspace is attention_decode_workspace_bytes(shape).
// Launched chained, it reads context_lens and the cache below each new position before waiting
// for the kernel before it (whose output qkv is): those must be final by then, as in a decode
// step, where only the projection runs in between.
struct DecodeQkv {
  const void* qkv = nullptr;
  const void* q_norm = nullptr;
  const void* k_norm = nullptr;
  float rope_theta = 10000.0f;
  float eps = 1e-6f;
};
void attention_decode_qkv(const DecodeQkv& in, void* k_cache, void* v_cache, void* out, const int32_t* context_lens,
                          const AttentionShape& shape, DType dtype, void* workspace, cudaStream_t stream);
}  // namespace moebench
