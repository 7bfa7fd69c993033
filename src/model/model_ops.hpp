#pragma once
// The operations of a decoder stack besides the MoE block, one interface with a CPU reference
// (cpu/cpu_model_ops.cpp: multithreaded, fp32 accumulation) and a CUDA implementation
// (cuda/cuda_model_ops.cu: cuBLAS GEMMs, our kernels, the attention kernels). Like MoeImpl on
// the GPU, every call only enqueues work on the backend's stream (no host synchronisation), so
// a decode step can be recorded once and replayed.
//
// Tensors are backend pointers in the model dtype (bf16 or fp16) unless said otherwise; rows
// are tokens, row-major. Every op rounds its result to the dtype once, computing in fp32.
#include <cmath>
#include <cstdint>
#include <memory>

#include "backend/backend.hpp"
#include "core/dtype.hpp"
#include "core/host_device.hpp"
#include "core/model_config.hpp"

namespace moebench {

// The attention of one layer, per GPU: the shapes of attention.cuh's AttentionShape.
struct AttentionDims {
  int batch = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int max_context = 0;     // cache capacity per sequence
  float softmax_scale = 0;
  // Sliding-window layers (ModelConfig::sliding_window): a query at position p attends to
  // positions (p - window, p]; 0: to every position up to p.
  int window = 0;
};

// The query/key/value projection's output of `rows` tokens ([rows][(heads + 2 kv_heads) * head_dim],
// q heads, then k, then v) becomes the attention's inputs: q and k go through the per-head
// RMSNorm (QK-norm, when the weights are given) and RoPE at each token's position; q is
// written contiguous [rows][heads][head_dim], k and v into the cache slot of the position.
// Row t is token t % tokens_per_seq of sequence t / tokens_per_seq, at position
// (positions ? positions[sequence] : 0) + start_pos + t % tokens_per_seq.
struct QkvToCacheArgs {
  const void* qkv = nullptr;
  const void* q_norm = nullptr;  // [head_dim], or null: no QK-norm
  const void* k_norm = nullptr;
  const int32_t* positions = nullptr;  // [sequences] on the backend (decode), or null (prefill)
  int start_pos = 0;
  int64_t rows = 0;
  int64_t tokens_per_seq = 1;
  float rope_theta = 10000.0f;
  float eps = 1e-6f;
  AttentionDims dims;
  void* q = nullptr;
  void* k_cache = nullptr;  // [batch][max_context][kv_heads][head_dim], of the first sequence
  void* v_cache = nullptr;
};

class ModelOps {
 public:
  virtual ~ModelOps() = default;

  // out[t] = table[tokens[t]] ([rows][hidden]); tokens int32 on the backend.
  virtual void embed(const int32_t* tokens, int64_t rows, const void* table, int64_t hidden, void* out) = 0;
  // A rank's part of a vocabulary-parallel embedding, which a sum over the ranks completes: out[t]
  // = table[tokens[t] - vocab_begin] in fp32 for the tokens in [vocab_begin, vocab_end) (the
  // table holds those rows), 0 for the others.
  virtual void embed_vocab_rows(const int32_t* tokens, int64_t rows, const void* table, int64_t hidden,
                                int64_t vocab_begin, int64_t vocab_end, float* out) = 0;
  // out[i] = x[i] rounded to the dtype, for `count` fp32 values (a sum over the ranks).
  virtual void round_fp32(const float* x, int64_t count, void* out) = 0;
  // out[r] = x[r] / rms(x[r]) * weight, for rows of `dim`.
  virtual void rms_norm(const void* x, const void* weight, int64_t rows, int64_t dim, float eps, void* out) = 0;
  // out[M][N] = x[M][K] . w[N][K]^T; out in the dtype, or fp32 when out_fp32.
  virtual void linear(const void* x, const void* w, void* out, int64_t m, int64_t n, int64_t k,
                      bool out_fp32 = false) = 0;
  // h[i] += y[i] for `count` elements (the residual stream).
  virtual void add(void* h, const void* y, int64_t count) = 0;
  // add(h, y), then rms_norm(h) into out: a backend may do both in one pass.
  virtual void add_rms_norm(void* h, const void* y, const void* weight, int64_t rows, int64_t dim, float eps,
                            void* out) {
    add(h, y, rows * dim);
    rms_norm(h, weight, rows, dim, eps, out);
  }
  // h [rows][2 I] (gate, up) -> out [rows][I] = activation(gate) * up.
  virtual void gated_activation(Activation activation, const void* h, int64_t rows, int64_t inter, void* out) = 0;
  virtual void qkv_to_cache(const QkvToCacheArgs& args) = 0;
  // Causal attention of q_len new tokens per sequence at positions [start_pos, start_pos + q_len),
  // whose K/V are in the cache: attention.cuh's attention_prefill.
  virtual void attention_prefill(const void* q, const void* k_cache, const void* v_cache, void* out,
                                 const AttentionDims& dims, int q_len, int start_pos) = 0;
  // One query per sequence over cache positions [0, context_lens[b]): attention_decode.
  virtual void attention_decode(const void* q, const void* k_cache, const void* v_cache, void* out,
                                const int32_t* context_lens, const AttentionDims& dims) = 0;
  // A decode step's attention from the projection: qkv_to_cache(a) (one token per sequence,
  // a.positions given), then attention_decode of a.q over the cache into `out`, where
  // context_lens[b] = a.positions[b] + 1. A backend may do both in one pass and leave a.q
  // unwritten (CUDA: attention.cuh's attention_decode_qkv).
  virtual void qkv_attention_decode(const QkvToCacheArgs& a, const int32_t* context_lens, void* out) {
    qkv_to_cache(a);
    attention_decode(a.q, a.k_cache, a.v_cache, out, context_lens, a.dims);
  }
  // out[b] = x[b * len + len - 1]: the last token of each of `batch` sequences of `len` rows.
  virtual void last_token_rows(const void* x, int64_t batch, int64_t len, int64_t hidden, void* out) = 0;
  // out[r] = the index of the largest of logits[r][0..vocab) (fp32; ties to the lower index,
  // NaN ranks lowest).
  virtual void argmax(const float* logits, int64_t rows, int64_t vocab, int32_t* out) = 0;
  // After a decode step: positions[b] += 1 and context_lens[b] = positions[b] + 1.
  virtual void advance_positions(int32_t* positions, int32_t* context_lens, int64_t batch) = 0;
};

// The ops of `backend` in `dtype` (bf16 or fp16). The CUDA ops also hold the attention
// decode workspace, sized for `max_dims`.
std::unique_ptr<ModelOps> make_model_ops(Backend& backend, DType dtype, const AttentionDims& max_dims);

// RoPE's rotation angle of pair i (of head_dim / 2) at `position`: position * theta^(-2i / head_dim),
// computed the same way on every backend (float, as in Hugging Face's inv_freq).
MB_HD float rope_angle(int position, int i, int head_dim, float theta) {
  const float inv_freq = 1.0f / powf(theta, float(2 * i) / float(head_dim));
  return float(position) * inv_freq;
}

}  // namespace moebench
