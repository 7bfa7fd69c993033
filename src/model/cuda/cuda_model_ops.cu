// The decoder ops on the GPU: GEMMs (the skinny GEMM for decode-sized row counts, cuBLAS
// otherwise: moe/cuda/skinny_gemm), the attention kernels of attention.cuh, and the small
// kernels below. Every kernel of a decode step launches chained (backend/cuda_launch.cuh), so
// each one's launch overlaps the one before. Each computes in fp32 and rounds once, in the
// same order as the CPU reference (cpu/cpu_model_ops.cpp), which the GPU tests hold them to.
// Nothing here synchronises with the host, so a decode step can be captured in a CUDA graph.
#include <algorithm>
#include <climits>
#include <stdexcept>

#include "backend/cuda_backend.hpp"
#include "backend/cuda_check.hpp"
#include "backend/cuda_device_math.cuh"  // block_sum
#include "backend/cuda_launch.cuh"
#include "model/cuda/attention.cuh"
#include "model/model_ops.hpp"
#include "moe/cuda/expert_kernels.cuh"
#include "moe/cuda/skinny_gemm.cuh"

namespace moebench {

namespace {

constexpr int kThreads = 256;
constexpr int kHeadThreads = 128;

unsigned grid_for(int64_t work) { return unsigned(std::min<int64_t>((work + kThreads - 1) / kThreads, 65535)); }

__global__ void embed_kernel(const int32_t* tokens, int64_t rows, const uint16_t* table, int64_t hidden,
                             uint16_t* out) {
  allow_next_kernels();
  wait_for_prior_kernels();
  const int64_t total = rows * hidden;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / hidden, c = i % hidden;
    out[i] = table[int64_t(tokens[r]) * hidden + c];
  }
}

__global__ void embed_vocab_rows_kernel(const int32_t* tokens, int64_t rows, const uint16_t* table, int64_t hidden,
                                        int64_t vocab_begin, int64_t vocab_end, DType dtype, float* out) {
  allow_next_kernels();
  wait_for_prior_kernels();
  const int64_t total = rows * hidden;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t token = tokens[i / hidden];
    out[i] = token >= vocab_begin && token < vocab_end
                 ? half_bits_to_float(table[(token - vocab_begin) * hidden + i % hidden], dtype)
                 : 0.0f;
  }
}

__global__ void round_fp32_kernel(const float* x, int64_t count, DType dtype, uint16_t* out) {
  allow_next_kernels();
  wait_for_prior_kernels();
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = float_to_half_bits(x[i], dtype);
}

// 16-byte vectors of 8 elements where the row length allows, single elements otherwise.
template <int kVec>
struct Packed;
template <>
struct Packed<8> {
  using Type = uint4;
};
template <>
struct Packed<1> {
  using Type = uint16_t;
};

// One block per row: out = h / rms(h) * w. With kAdd, h = round(h + y) is written back first
// (the residual add of a decoder step), in the same pass. Without it h is only read.
template <int kVec, bool kAdd>
__global__ void rms_norm_kernel(uint16_t* h, const uint16_t* y, const uint16_t* w, int64_t dim, float eps,
                                DType dtype, uint16_t* out) {
  using P = typename Packed<kVec>::Type;
  __shared__ float scratch[32];
  allow_next_kernels();
  const int64_t n = dim / kVec;
  // The thread's first weight vector before the wait: no kernel writes the weights, and they
  // come from HBM (a decode step streams gigabytes between two uses of a layer's norm), a round
  // trip that came after the reduction. Measured on an H100 (qwen3-30b-a3b, batch 1): TPOT
  // 3.37 -> 3.33 ms. (Keeping all of a thread's vectors in registers instead took the kernel
  // from 2.5 to 6.1 us.)
  P w0{};
  if (threadIdx.x < n) w0 = reinterpret_cast<const P*>(w)[threadIdx.x];
  wait_for_prior_kernels();
  P* hr = reinterpret_cast<P*>(h + int64_t(blockIdx.x) * dim);
  float ss = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    P v = hr[i];
    uint16_t* e = reinterpret_cast<uint16_t*>(&v);
    if constexpr (kAdd) {
      P a = reinterpret_cast<const P*>(y + int64_t(blockIdx.x) * dim)[i];
      const uint16_t* ae = reinterpret_cast<const uint16_t*>(&a);
#pragma unroll
      for (int k = 0; k < kVec; ++k)
        e[k] = float_to_half_bits(half_bits_to_float(e[k], dtype) + half_bits_to_float(ae[k], dtype), dtype);
      hr[i] = v;
    }
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      const float f = half_bits_to_float(e[k], dtype);
      ss += f * f;
    }
  }
  const float r = 1.0f / sqrtf(block_sum(ss, scratch) / float(dim) + eps);
  P* o = reinterpret_cast<P*>(out + int64_t(blockIdx.x) * dim);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    P v = hr[i], wv = i == threadIdx.x ? w0 : reinterpret_cast<const P*>(w)[i], res;
    const uint16_t* e = reinterpret_cast<const uint16_t*>(&v);
    const uint16_t* we = reinterpret_cast<const uint16_t*>(&wv);
    uint16_t* re = reinterpret_cast<uint16_t*>(&res);
#pragma unroll
    for (int k = 0; k < kVec; ++k)
      re[k] = float_to_half_bits(half_bits_to_float(e[k], dtype) * r * half_bits_to_float(we[k], dtype), dtype);
    o[i] = res;
  }
}

template <bool kAdd>
void launch_rms_norm(uint16_t* h, const uint16_t* y, const uint16_t* w, int64_t rows, int64_t dim, float eps,
                     DType dtype, uint16_t* out, cudaStream_t stream) {
  if (rows == 0) return;
  if (dim % 8 == 0)
    launch_chained(rms_norm_kernel<8, kAdd>, unsigned(rows), kThreads, 0, stream, h, y, w, dim, eps, dtype, out);
  else
    launch_chained(rms_norm_kernel<1, kAdd>, unsigned(rows), kThreads, 0, stream, h, y, w, dim, eps, dtype, out);
}

__global__ void add_kernel(uint16_t* h, const uint16_t* y, int64_t count, DType dtype) {
  allow_next_kernels();
  wait_for_prior_kernels();
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    h[i] = float_to_half_bits(half_bits_to_float(h[i], dtype) + half_bits_to_float(y[i], dtype), dtype);
}

// Block (token t, head h of q, k, v): QK-norm, RoPE, and the write to q or the cache slot.
// Dynamic shared memory: head_dim floats.
__global__ void qkv_to_cache_kernel(QkvToCacheArgs a, DType dtype) {
  extern __shared__ float head[];
  __shared__ float scratch[32];
  allow_next_kernels();
  wait_for_prior_kernels();
  const AttentionDims& d = a.dims;
  const int hd = d.head_dim, heads = d.num_heads, kv = d.num_kv_heads;
  const int64_t t = blockIdx.x;
  const int h = blockIdx.y;
  const int64_t seq = t / a.tokens_per_seq;
  const int pos = (a.positions ? a.positions[seq] : 0) + a.start_pos + int(t % a.tokens_per_seq);
  const int64_t slot = (seq * d.max_context + pos) * kv;
  const uint16_t* src = static_cast<const uint16_t*>(a.qkv) + t * int64_t(heads + 2 * kv) * hd + int64_t(h) * hd;
  uint16_t* dst = h < heads        ? static_cast<uint16_t*>(a.q) + (t * heads + h) * hd
                  : h < heads + kv ? static_cast<uint16_t*>(a.k_cache) + (slot + h - heads) * hd
                                   : static_cast<uint16_t*>(a.v_cache) + (slot + h - heads - kv) * hd;
  if (h >= heads + kv) {  // v: as projected
    for (int c = threadIdx.x; c < hd; c += blockDim.x) dst[c] = src[c];
    return;
  }
  for (int c = threadIdx.x; c < hd; c += blockDim.x) head[c] = half_bits_to_float(src[c], dtype);
  const auto* norm = static_cast<const uint16_t*>(h < heads ? a.q_norm : a.k_norm);
  if (norm) {  // uniform across the block: every thread takes the reduction
    float ss = 0;
    for (int c = threadIdx.x; c < hd; c += blockDim.x) ss += head[c] * head[c];
    const float r = 1.0f / sqrtf(block_sum(ss, scratch) / float(hd) + a.eps);
    for (int c = threadIdx.x; c < hd; c += blockDim.x)
      head[c] = round_to_dtype(head[c] * r * half_bits_to_float(norm[c], dtype), dtype);
  }
  __syncthreads();
  const int half = hd / 2;
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    const float angle = rope_angle(pos, i, hd, a.rope_theta), c = cosf(angle), s = sinf(angle);
    const float x1 = head[i], x2 = head[i + half];
    dst[i] = float_to_half_bits(x1 * c - x2 * s, dtype);
    dst[i + half] = float_to_half_bits(x2 * c + x1 * s, dtype);
  }
}

// The first index of the largest value of each row (NaN never wins). Block (s, r) of 1024
// threads takes slice s of row r; each thread keeps four loads in flight and visits its indices
// in ascending order, so a strict > keeps the first of equal values, and every reduction breaks
// ties to the lower index. With one slice per row the block writes the answer; with more (a
// decode step's one or few rows: 152k logits took one block 17 us on an H100) it writes its
// slice's best to `partials` and argmax_merge_kernel picks per row.
constexpr int kArgmaxThreads = 1024;
constexpr int kArgmaxLoads = 4;
constexpr int kArgmaxMostSlices = 32;  // argmax_merge_kernel: one warp per row

struct ArgmaxPartial {
  float value;
  int64_t index;  // vocab: none (an all-NaN slice)
};

__device__ void keep_better(float& bv, int64_t& bi, float v, int64_t i) {
  if (v > bv || (v == bv && i < bi)) {
    bv = v;
    bi = i;
  }
}

__device__ void warp_keep_best(float& v, int64_t& i) {
  for (int o = 16; o > 0; o >>= 1) keep_better(v, i, __shfl_xor_sync(0xffffffffu, v, o), __shfl_xor_sync(0xffffffffu, i, o));
}

__global__ void __launch_bounds__(kArgmaxThreads)
    argmax_kernel(const float* logits, int64_t vocab, int64_t slice_len, ArgmaxPartial* partials, int32_t* out) {
  __shared__ float warp_v[32];
  __shared__ int64_t warp_i[32];
  wait_for_prior_kernels();
  const float* row = logits + int64_t(blockIdx.y) * vocab;
  const int64_t begin = int64_t(blockIdx.x) * slice_len, end = min(begin + slice_len, vocab);
  float bv = -INFINITY;
  int64_t bi = vocab;  // none yet
  for (int64_t base = begin + threadIdx.x; base < end; base += int64_t(kArgmaxLoads) * blockDim.x) {
    float v[kArgmaxLoads];
#pragma unroll
    for (int j = 0; j < kArgmaxLoads; ++j) {
      const int64_t i = base + int64_t(j) * blockDim.x;
      v[j] = i < end ? row[i] : -INFINITY;
    }
#pragma unroll
    for (int j = 0; j < kArgmaxLoads; ++j)
      if (v[j] > bv) {
        bv = v[j];
        bi = base + int64_t(j) * blockDim.x;
      }
  }
  allow_next_kernels();  // the logits are read: only the reduction is left
  warp_keep_best(bv, bi);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    warp_v[warp] = bv;
    warp_i[warp] = bi;
  }
  __syncthreads();
  if (warp == 0) {
    bv = lane < int(blockDim.x / 32) ? warp_v[lane] : -INFINITY;
    bi = lane < int(blockDim.x / 32) ? warp_i[lane] : vocab;
    warp_keep_best(bv, bi);
    if (lane != 0) return;
    if (partials)
      partials[int64_t(blockIdx.y) * gridDim.x + blockIdx.x] = ArgmaxPartial{bv, bi};
    else
      out[blockIdx.y] = int32_t(bi == vocab ? 0 : bi);
  }
}

// One warp per row: the best of the row's slices' partials.
__global__ void argmax_merge_kernel(const ArgmaxPartial* partials, int slices, int64_t vocab, int32_t* out) {
  allow_next_kernels();
  wait_for_prior_kernels();
  const int lane = threadIdx.x;
  const ArgmaxPartial* row = partials + int64_t(blockIdx.x) * slices;
  float bv = lane < slices ? row[lane].value : -INFINITY;
  int64_t bi = lane < slices ? row[lane].index : vocab;
  warp_keep_best(bv, bi);
  if (lane == 0) out[blockIdx.x] = int32_t(bi == vocab ? 0 : bi);
}

__global__ void advance_positions_kernel(int32_t* positions, int32_t* context_lens, int64_t batch) {
  allow_next_kernels();
  wait_for_prior_kernels();
  const int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b < batch) context_lens[b] = ++positions[b] + 1;
}

AttentionShape attention_shape(const AttentionDims& d) {
  AttentionShape s;
  s.batch = d.batch;
  s.num_heads = d.num_heads;
  s.num_kv_heads = d.num_kv_heads;
  s.head_dim = d.head_dim;
  s.max_context = d.max_context;
  s.softmax_scale = d.softmax_scale;
  return s;
}

// The split-K plan, and so the workspace, depends on the batch: the largest over 1..max batch.
size_t decode_workspace_bytes(const AttentionDims& max_dims) {
  if (max_dims.batch <= 0) return 0;
  size_t bytes = 0;
  AttentionDims d = max_dims;
  for (d.batch = 1; d.batch <= max_dims.batch; ++d.batch)
    bytes = std::max(bytes, attention_decode_workspace_bytes(attention_shape(d)));
  return bytes;
}

class CudaModelOps final : public ModelOps {
 public:
  CudaModelOps(Backend& backend, DType dtype, const AttentionDims& max_dims)
      : dtype_(dtype), stream_(cuda_stream(backend)), cublas_(cublas_handle(backend)),
        decode_workspace_(backend, decode_workspace_bytes(max_dims)),
        argmax_partials_(backend, size_t(std::max(1, max_dims.batch)) * kArgmaxMostSlices * sizeof(ArgmaxPartial)),
        max_dims_(max_dims) {}

  void embed(const int32_t* tokens, int64_t rows, const void* table, int64_t hidden, void* out) override {
    if (rows == 0) return;
    launch_chained(embed_kernel, grid_for(rows * hidden), kThreads, 0, stream_, tokens, rows,
                   static_cast<const uint16_t*>(table), hidden, static_cast<uint16_t*>(out));
  }

  void embed_vocab_rows(const int32_t* tokens, int64_t rows, const void* table, int64_t hidden, int64_t vocab_begin,
                        int64_t vocab_end, float* out) override {
    if (rows == 0) return;
    launch_chained(embed_vocab_rows_kernel, grid_for(rows * hidden), kThreads, 0, stream_, tokens, rows,
                   static_cast<const uint16_t*>(table), hidden, vocab_begin, vocab_end, dtype_, out);
  }

  void round_fp32(const float* x, int64_t count, void* out) override {
    if (count == 0) return;
    launch_chained(round_fp32_kernel, grid_for(count), kThreads, 0, stream_, x, count, dtype_,
                   static_cast<uint16_t*>(out));
  }

  void rms_norm(const void* x, const void* weight, int64_t rows, int64_t dim, float eps, void* out) override {
    if (rows == 0) return;
    // Without the add the kernel only reads x.
    launch_rms_norm<false>(const_cast<uint16_t*>(static_cast<const uint16_t*>(x)), nullptr,
                           static_cast<const uint16_t*>(weight), rows, dim, eps, dtype_, static_cast<uint16_t*>(out),
                           stream_);
  }

  void add_rms_norm(void* h, const void* y, const void* weight, int64_t rows, int64_t dim, float eps,
                    void* out) override {
    launch_rms_norm<true>(static_cast<uint16_t*>(h), static_cast<const uint16_t*>(y),
                          static_cast<const uint16_t*>(weight), rows, dim, eps, dtype_, static_cast<uint16_t*>(out),
                          stream_);
  }

  void linear(const void* x, const void* w, void* out, int64_t m, int64_t n, int64_t k, bool out_fp32) override {
    gemm_rows_or_skinny(cublas_, stream_, x, w, out, m, n, k, dtype_, out_fp32);
  }

  void add(void* h, const void* y, int64_t count) override {
    if (count == 0) return;
    launch_chained(add_kernel, grid_for(count), kThreads, 0, stream_, static_cast<uint16_t*>(h),
                   static_cast<const uint16_t*>(y), count, dtype_);
  }

  void gated_activation(Activation activation, const void* h, int64_t rows, int64_t inter, void* out) override {
    launch_gated_activation(activation, h, rows, inter, dtype_, out, stream_);
  }

  void qkv_to_cache(const QkvToCacheArgs& a) override {
    if (a.rows == 0) return;
    const dim3 grid(unsigned(a.rows), unsigned(a.dims.num_heads + 2 * a.dims.num_kv_heads));
    launch_chained(qkv_to_cache_kernel, grid, kHeadThreads, size_t(a.dims.head_dim) * sizeof(float), stream_, a, dtype_);
  }

  void attention_prefill(const void* q, const void* k_cache, const void* v_cache, void* out, const AttentionDims& d,
                         int q_len, int start_pos) override {
    moebench::attention_prefill(q, k_cache, v_cache, out, attention_shape(d), q_len, start_pos, dtype_, stream_);
  }

  void attention_decode(const void* q, const void* k_cache, const void* v_cache, void* out,
                        const int32_t* context_lens, const AttentionDims& d) override {
    check_decode_workspace(d);
    moebench::attention_decode(q, k_cache, v_cache, out, context_lens, attention_shape(d), dtype_,
                               decode_workspace_.get(), stream_);
  }

  void qkv_attention_decode(const QkvToCacheArgs& a, const int32_t* context_lens, void* out) override {
    // One pass (attention.cuh's attention_decode_qkv): measured on an H100, qwen3-30b-a3b decode
    // TPOT at batch 1 3.43 -> 3.37 ms, batch 8 13.23 -> 13.15, against the cache-write kernel
    // and attention_decode.
    if (a.tokens_per_seq != 1 || a.start_pos != 0 || a.rows != a.dims.batch) {
      ModelOps::qkv_attention_decode(a, context_lens, out);
      return;
    }
    check_decode_workspace(a.dims);
    DecodeQkv in;
    in.qkv = a.qkv;
    in.q_norm = a.q_norm;
    in.k_norm = a.k_norm;
    in.rope_theta = a.rope_theta;
    in.eps = a.eps;
    moebench::attention_decode_qkv(in, a.k_cache, a.v_cache, out, context_lens, attention_shape(a.dims), dtype_,
                                   decode_workspace_.get(), stream_);
  }

  void last_token_rows(const void* x, int64_t batch, int64_t len, int64_t hidden, void* out) override {
    const size_t row = size_t(hidden) * sizeof(uint16_t);
    MB_CUDA_CHECK(cudaMemcpy2DAsync(out, row, static_cast<const char*>(x) + size_t(len - 1) * row, size_t(len) * row,
                                    row, size_t(batch), cudaMemcpyDeviceToDevice, stream_));
  }

  void argmax(const float* logits, int64_t rows, int64_t vocab, int32_t* out) override {
    if (rows == 0) return;
    // Slices so that a few rows still spread over ~128 blocks; rows beyond the partials' room
    // (more than the largest batch) have blocks enough one per row.
    const int64_t capacity = int64_t(argmax_partials_.bytes() / (sizeof(ArgmaxPartial) * kArgmaxMostSlices));
    const int64_t slices = rows <= capacity ? std::clamp<int64_t>(128 / rows, 1, kArgmaxMostSlices) : 1;
    const int64_t slice_len = (vocab + slices - 1) / slices;
    ArgmaxPartial* partials = slices > 1 ? argmax_partials_.as<ArgmaxPartial>() : nullptr;
    launch_chained(argmax_kernel, dim3(unsigned(slices), unsigned(rows)), kArgmaxThreads, 0, stream_, logits, vocab,
                   slice_len, partials, out);
    if (partials)
      launch_chained(argmax_merge_kernel, unsigned(rows), 32, 0, stream_, static_cast<const ArgmaxPartial*>(partials),
                     int(slices), vocab, out);
  }

  void advance_positions(int32_t* positions, int32_t* context_lens, int64_t batch) override {
    if (batch == 0) return;
    launch_chained(advance_positions_kernel, grid_for(batch), kThreads, 0, stream_, positions, context_lens, batch);
  }

 private:
  void check_decode_workspace(const AttentionDims& d) const {
    if (d.batch > max_dims_.batch || attention_decode_workspace_bytes(attention_shape(d)) > decode_workspace_.bytes())
      throw std::invalid_argument("attention_decode: batch or context beyond the workspace's");
  }

  DType dtype_;
  cudaStream_t stream_;
  cublasHandle_t cublas_;
  DeviceBuffer decode_workspace_;
  DeviceBuffer argmax_partials_;  // [rows up to the largest batch][kArgmaxMostSlices]
  AttentionDims max_dims_;
};

}  // namespace

std::unique_ptr<ModelOps> make_cuda_model_ops(Backend& backend, DType dtype, const AttentionDims& max_dims) {
  return std::make_unique<CudaModelOps>(backend, dtype, max_dims);
}

}  // namespace moebench
