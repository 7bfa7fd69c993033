#include "analysis/memory_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "core/errors.hpp"
#include "core/size_math.hpp"

namespace moebench {

namespace {

constexpr int64_t kMiB = int64_t(1) << 20;

// --- Estimates: what the runtime, not the shapes, decides. Each names where it comes from. ---
// NCCL: each channel keeps a send/receive connection pair, and each connection a buffer per
// protocol (Simple 4 MiB, LL128 about 4.6 MiB, LL 0.5 MiB with NCCL's defaults); 16 channels.
constexpr int64_t kNcclChannels = 16;
constexpr int64_t kNcclBytesPerConnection = 9 * kMiB;
// The all-reduce workspace SGLang's FlashInfer backend allocated per rank in seed 001.
constexpr int64_t kAllReduceWorkspaceBytes = 201326592;
// CUDA context, module images, cuBLAS workspaces: what a fresh process takes before its first
// allocation on an H100 with CUDA 12/13 lazy loading, rounded.
constexpr int64_t kCudaContextBytes = 512 * kMiB;
// CUDA graphs: besides the pool holding the largest captured batch's decode buffers, each
// captured graph costs some memory per layer it launches. Calibrated on seed 001: 52 graphs of
// Qwen3-235B (94 layers) at TP8 took 2.93 GiB; this constant gives 2.73 GiB there.
constexpr int64_t kGraphBytesPerLayer = 512 * 1024;
// Graph batches beyond this are not captured by any server; it also bounds the capture list.
constexpr int64_t kMaxGraphBatch = 1 << 16;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Every count below saturates (core/size_math.hpp) rather than wraps: a shape too large for any
// machine stays too large, and validate_memory_request refuses it naming the flag.

// Weights counted by how they are stored: linear layers follow the weight dtype (fp8: one byte
// plus an fp32 scale per 128 x 128 block), the rest stays in the activation dtype or fp32.
struct WeightTally {
  int64_t linear_elements = 0;
  int64_t scale_blocks = 0;
  int64_t plain_elements = 0;  // embeddings, LM head, router, norms
  int64_t fp32_elements = 0;   // DeepSeek's score-correction bias

  void linear(int64_t rows, int64_t cols, int64_t count = 1) {
    linear_elements = size_add(linear_elements, size_mul(count, rows, cols));
    scale_blocks = size_add(scale_blocks, size_mul(count, ceil_div(rows, kFp8BlockSize), ceil_div(cols, kFp8BlockSize)));
  }
  void plain(int64_t elements) { plain_elements = size_add(plain_elements, elements); }
  int64_t elements() const { return size_add(linear_elements, plain_elements, fp32_elements); }
  int64_t bytes(DType weight_dtype) const {
    const int64_t plain_bytes = 2;  // bf16, or fp16 with fp16 weights: two bytes either way
    const int64_t rest = size_add(size_mul(plain_bytes, plain_elements), size_mul(4, fp32_elements));
    if (weight_dtype == DType::fp8) return size_add(linear_elements, size_mul(4, scale_blocks), rest);
    return size_add(size_mul(dtype_bytes(weight_dtype), linear_elements), rest);
  }
};

// One SwiGLU MLP of width `width` split `ways` ways: gate and up [width/ways, H], down [H, width/ways].
void swiglu_mlp(WeightTally& t, int64_t hidden, int64_t width, int ways, int64_t count) {
  const int64_t slice = width / ways;
  t.linear(slice, hidden, size_mul(2, count));  // gate, up: separate matrices, separate scale grids
  t.linear(hidden, slice, count);
}

int heads_per_gpu(const ModelConfig& m, int tp) { return heads_per_rank(m, tp); }
int kv_heads_per_gpu(const ModelConfig& m, int tp) { return kv_heads_per_rank(m, tp); }

// Per-GPU widths of the attention tensors of one token, in elements.
struct AttentionWidths {
  int64_t q = 0, k = 0, v = 0, o = 0;
  int64_t latent = 0;  // MLA: compressed q and kv vectors
  int64_t heads = 0;
};

AttentionWidths attention_widths(const ModelConfig& m, int tp) {
  AttentionWidths w;
  w.heads = heads_per_gpu(m, tp);
  if (m.attention == AttentionKind::mla) {
    const int64_t qk = int64_t(m.qk_nope_head_dim) + m.qk_rope_head_dim;
    w.q = w.k = w.heads * qk;
    w.v = w.o = w.heads * m.v_head_dim;
    w.latent = int64_t(m.kv_lora_rank) + m.qk_rope_head_dim + m.q_lora_rank;
  } else {
    w.q = w.o = w.heads * m.head_dim;
    w.k = w.v = int64_t(kv_heads_per_gpu(m, tp)) * m.head_dim;
  }
  return w;
}

WeightTally attention_tally(const ModelConfig& m, int tp) {
  WeightTally t;
  const int64_t h = m.hidden_size;
  const AttentionWidths w = attention_widths(m, tp);
  if (m.attention == AttentionKind::mla) {
    // The down-projections to the latents are replicated (every GPU needs the whole latent);
    // the up-projections and o_proj are split by heads.
    if (m.q_lora_rank > 0) {
      t.linear(m.q_lora_rank, h);
      t.plain(m.q_lora_rank);  // q_a_layernorm
      t.linear(w.q, m.q_lora_rank);
    } else {
      t.linear(w.q, h);
    }
    t.linear(int64_t(m.kv_lora_rank) + m.qk_rope_head_dim, h);
    t.plain(m.kv_lora_rank);  // kv_a_layernorm
    t.linear(w.heads * (int64_t(m.qk_nope_head_dim) + m.v_head_dim), m.kv_lora_rank);
    t.linear(h, w.o);
  } else {
    t.linear(w.q, h);
    t.linear(w.k, h);
    t.linear(w.v, h);
    t.linear(h, w.o);
    if (m.qk_norm) t.plain(2 * int64_t(m.head_dim));
  }
  return t;
}

void check_positive(int64_t value, const char* flag) {
  if (value <= 0) throw InputError(fmt::format("{} must be positive (got {})", flag, value));
}

// Transient buffers of one decoder layer processing `tokens` tokens at once, by part.
struct LayerBuffers {
  int64_t hidden = 0;     // residual stream, normed input, block output: [T, H] each
  int64_t attention = 0;  // Q, K, V, O (and MLA latents) plus fp32 row statistics
  int64_t moe = 0;        // routing and permutation buffers, or the dense MLP's
};

LayerBuffers layer_buffers(const MemoryRequest& r, int64_t tokens) {
  const ModelConfig& m = r.model;
  const int64_t b = dtype_bytes(r.activation_dtype());
  const int64_t h = m.hidden_size;
  const AttentionWidths w = attention_widths(m, r.layout.tp);
  LayerBuffers out;
  out.hidden = size_mul(3, tokens, h, b);
  // Flash-style attention: the T x T scores are never materialised, only per-row max/sum.
  out.attention = size_add(size_mul(tokens, w.q + w.k + w.v + w.o + w.latent, b), size_mul(tokens, w.heads, 4));
  const int moe_tp = r.layout.moe_tp();
  // Permutation buffers for every routed row, tokens * top_k * (hidden + 2 * intermediate): the
  // fused MoE kernels allocate them for all rows whichever GPU's experts they land on. Plus the
  // fp32 router logits and the top-k ids and weights.
  int64_t moe = 0;
  if (m.moe_layer_count() > 0) {
    moe = size_add(size_mul(tokens, m.top_k, size_add(h, size_mul(2, m.moe_intermediate_size / moe_tp)), b),
                   size_mul(tokens, m.num_experts, 4), size_mul(tokens, m.top_k, 8));
    if (m.num_shared_experts > 0)
      moe = size_add(moe, size_mul(tokens, m.num_shared_experts, 2, m.shared_intermediate_size / moe_tp, b));
  }
  int64_t dense =
      m.first_k_dense_replace > 0 ? size_mul(tokens, 2, m.dense_intermediate_size / r.layout.tp, b) : 0;
  out.moe = std::max(moe, dense);
  return out;
}

// fp32 logits over the whole vocabulary (gathered across TP) for the last token of each sequence.
int64_t sampling_logits_bytes(const ModelConfig& m, int64_t sequences) { return size_mul(sequences, m.vocab_size, 4); }

int64_t vocab_rows_per_gpu(const ModelConfig& m, int tp) { return vocab_rows_per_rank(m, tp); }

void add_weight_lines(std::vector<MemoryLine>& lines, const MemoryRequest& r, const WeightBytes& w) {
  const ModelConfig& m = r.model;
  const ParallelLayout p = r.layout;
  const std::string scales = r.weight_dtype == DType::fp8 ? " + fp32 128x128 scales" : "";
  auto add = [&](const char* key, const char* label, int64_t bytes, std::string basis) {
    if (bytes > 0) lines.push_back({key, label, bytes, false, std::move(basis)});
  };
  add("weights.attention", "weights: attention", w.attention,
      m.attention == AttentionKind::mla
          ? fmt::format("MLA, {} of {} heads per GPU, latents replicated{}", heads_per_gpu(m, p.tp),
                        m.num_attention_heads, scales)
          : fmt::format("{} of {} heads, {} of {} KV heads per GPU{}", heads_per_gpu(m, p.tp), m.num_attention_heads,
                        kv_heads_per_gpu(m, p.tp), m.num_kv_heads, scales));
  add("weights.routed_experts", "weights: routed experts", w.routed_experts,
      fmt::format("{} of {} experts x 1/{} of each, {} layers{}", m.num_experts / p.ep, m.num_experts, p.moe_tp(),
                  m.moe_layer_count(), scales));
  add("weights.shared_experts", "weights: shared experts", w.shared_experts,
      fmt::format("{} x 1/{} of each, replicated across ep{}", m.num_shared_experts, p.moe_tp(), scales));
  add("weights.dense_mlp", "weights: dense MLP", w.dense_mlp,
      fmt::format("{} dense layers, 1/{} each{}", m.first_k_dense_replace, p.tp, scales));
  add("weights.router", "weights: router", w.router, "replicated, bf16");
  add("weights.embedding", "weights: embedding", w.embedding,
      fmt::format("{} of {} vocab rows{}", vocab_rows_per_gpu(m, p.tp), m.vocab_size,
                  m.tie_word_embeddings ? ", tied to the LM head" : ""));
  add("weights.lm_head", "weights: LM head", w.lm_head,
      fmt::format("{} of {} vocab rows", vocab_rows_per_gpu(m, p.tp), m.vocab_size));
  add("weights.norms", "weights: norms", w.norms, "replicated");
}

void add_inference_lines(std::vector<MemoryLine>& lines, const MemoryRequest& r, int64_t kv_per_token) {
  const ModelConfig& m = r.model;
  const int64_t kv_tokens = size_mul(r.batch_size, r.context_len());
  // A sliding-window layer keeps only the last sliding_window positions of each sequence.
  const int sliding = m.sliding_layer_count();
  const int64_t per_layer = kv_per_token / m.num_layers;  // every layer keeps the same per token
  const int64_t window_tokens = size_mul(r.batch_size, std::min(r.context_len(), m.sliding_window));
  const int64_t kv_bytes = size_add(size_mul(kv_tokens, per_layer, m.num_layers - sliding),
                                    size_mul(window_tokens, per_layer, sliding));
  std::string basis = fmt::format("{} tokens x {:.1f} KiB ({} x {})", kv_tokens, double(kv_per_token) / 1024,
                                  r.batch_size, r.context_len());
  if (sliding > 0)
    basis = fmt::format("{} tokens x {:.1f} KiB on {} full layers, {} tokens ({} x window {}) on {} sliding layers",
                        kv_tokens, double(per_layer * (m.num_layers - sliding)) / 1024, m.num_layers - sliding,
                        window_tokens, r.batch_size, std::min(r.context_len(), m.sliding_window), sliding);
  lines.push_back({"kv_cache", "KV cache", kv_bytes, false, basis});

  const int64_t prompt_tokens = size_mul(r.batch_size, r.input_len);
  const int64_t step_tokens =
      r.chunked_prefill_size > 0 ? std::min(prompt_tokens, r.chunked_prefill_size) : prompt_tokens;
  const LayerBuffers prefill = layer_buffers(r, step_tokens);
  const std::string at = fmt::format("prefill of {} tokens", step_tokens);
  lines.push_back({"activations.hidden_states", "activations: hidden states", prefill.hidden, false,
                   at + ": residual, normed, output"});
  lines.push_back({"activations.attention", "activations: attention workspace", prefill.attention, false,
                   at + ": Q K V O, fp32 row stats (flash, no TxT)"});
  lines.push_back({"activations.moe", "activations: MoE permutation buffers", prefill.moe, false,
                   at + ": T*top_k*(H+2I), router logits"});
  lines.push_back({"activations.logits", "activations: logits", sampling_logits_bytes(m, r.batch_size), false,
                   fmt::format("last token of {} x {} vocab, fp32", r.batch_size, m.vocab_size)});

  const int64_t graph_max_bs = r.cuda_graph_max_bs.value_or(std::min(r.batch_size, kMaxGraphBatch));
  if (graph_max_bs > 0) {
    const std::vector<int64_t> sizes = cuda_graph_batch_sizes(graph_max_bs);
    const int64_t largest = sizes.back();
    const LayerBuffers decode = layer_buffers(r, largest);
    const int64_t pool = size_add(decode.hidden, decode.attention, decode.moe, sampling_logits_bytes(m, largest));
    const int64_t graphs = size_mul(int64_t(sizes.size()), m.num_layers, kGraphBytesPerLayer);
    lines.push_back({"cuda_graphs", "CUDA graph pool", size_add(pool, graphs), true,
                     fmt::format("{} graphs up to batch {}: decode buffers + {} KiB/layer/graph", sizes.size(),
                                 largest, kGraphBytesPerLayer / 1024)});
  }
}

void add_training_lines(std::vector<MemoryLine>& lines, const MemoryRequest& r, const WeightBytes& w) {
  const ModelConfig& m = r.model;
  const ParallelLayout p = r.layout;
  const int64_t b = dtype_bytes(r.activation_dtype());
  const int64_t h = m.hidden_size;
  const int64_t tokens = size_mul(r.batch_size, r.context_len());
  const int64_t params = w.parameters;
  lines.push_back({"gradients", "gradients", size_mul(params, b), false,
                   fmt::format("{:.2f} B parameters x {} B", double(params) / 1e9, b)});
  lines.push_back({"optimizer", "optimizer: Adam", size_mul(params, 12), false,
                   "fp32 master + 2 moments: 12 B/parameter"});

  // Saved for backward, per token and layer (balanced routing: top_k / ep rows per token land on
  // this GPU's experts; hidden-size tensors are whole on every TP rank, no sequence parallelism).
  const AttentionWidths aw = attention_widths(m, p.tp);
  const int64_t attention = size_add(size_mul(2, h, b), size_mul(aw.q + aw.k + aw.v + aw.o + aw.latent, b),
                                     size_mul(aw.heads, 4));
  const int64_t expert_slice = m.moe_intermediate_size / p.moe_tp();
  int64_t moe = size_add(size_mul(2, h, b), size_mul(m.num_experts, 4),
                         ceil_div(size_mul(m.top_k, size_add(size_mul(2, h), size_mul(3, expert_slice)), b), p.ep));
  if (m.num_shared_experts > 0)
    moe = size_add(moe, size_mul(m.num_shared_experts, size_add(size_mul(3, m.shared_intermediate_size / p.moe_tp()), h), b));
  const int64_t dense = size_add(size_mul(2, h, b), size_mul(3, m.dense_intermediate_size / p.tp, b));
  const int64_t per_token = size_add(size_mul(m.num_layers, attention), size_mul(m.moe_layer_count(), moe),
                                     size_mul(m.first_k_dense_replace, dense), size_mul(h, b),
                                     size_mul(vocab_rows_per_gpu(m, p.tp), 4));  // final norm, fp32 logits for the loss
  lines.push_back({"activations.saved", "activations saved for backward", size_mul(tokens, per_token), false,
                   fmt::format("{} tokens x {:.1f} KiB (flash attention, balanced routing)", tokens,
                               double(per_token) / 1024)});
  const LayerBuffers buffers = layer_buffers(r, tokens);
  lines.push_back({"buffers", "buffers: one layer's workspace", size_add(buffers.hidden, buffers.attention, buffers.moe),
                   false, "MoE permutation T*top_k*(H+2I), attention, hidden"});
}

}  // namespace

MemoryMode parse_memory_mode(const std::string& text) {
  if (text == "inference") return MemoryMode::inference;
  if (text == "train") return MemoryMode::train;
  throw InputError("--mode: unknown mode '" + text + "': use inference or train");
}

const char* memory_mode_name(MemoryMode mode) { return mode == MemoryMode::train ? "train" : "inference"; }

void validate_memory_request(const MemoryRequest& r) {
  const ModelConfig& m = r.model;
  if (m.num_layers <= 0)
    throw InputError(fmt::format("{}: the memory model needs the decoder stack: missing field \"num_hidden_layers\" "
                                 "(with --manual-config: --num-hidden-layers, --num-attention-heads, --vocab-size)",
                                 m.name));
  m.validate(/*layer_only=*/false);
  check_positive(r.batch_size, "--batch-size");
  check_positive(r.input_len, "--input-len");
  if (r.output_len < 0) throw InputError(fmt::format("--output-len must be >= 0 (got {})", r.output_len));
  // Each length alone first, so that their sum is a real context and the message names the flag.
  for (const auto& [value, flag] : {std::pair{r.input_len, "--input-len"}, std::pair{r.output_len, "--output-len"}})
    if (value > kMaxMemoryTokens)
      throw InputError(fmt::format("{} {} is beyond any GPU (more than {} tokens): lower {}", flag, value,
                                   kMaxMemoryTokens, flag));
  if (r.context_len() > m.max_position_embeddings)
    throw InputError(fmt::format("--input-len + --output-len ({} + {} = {}) exceeds max_position_embeddings ({}) of "
                                 "{}: shorten the context to at most {} tokens",
                                 r.input_len, r.output_len, r.context_len(), m.max_position_embeddings, m.name,
                                 m.max_position_embeddings));
  if (r.batch_size > kMaxMemoryTokens / r.context_len())
    throw InputError(fmt::format("--batch-size {} x context {} is beyond any GPU (more than {} tokens): lower "
                                 "--batch-size",
                                 r.batch_size, r.context_len(), kMaxMemoryTokens));
  if (r.chunked_prefill_size < 0)
    throw InputError(fmt::format("--chunked-prefill-size must be >= 0 (got {}; 0 prefills the whole batch at once)",
                                 r.chunked_prefill_size));
  if (r.cuda_graph_max_bs && (*r.cuda_graph_max_bs < 0 || *r.cuda_graph_max_bs > kMaxGraphBatch))
    throw InputError(fmt::format("--cuda-graph-max-bs must be within 0..{} (got {}; 0 captures no graphs)",
                                 kMaxGraphBatch, *r.cuda_graph_max_bs));
  if (r.weight_dtype == DType::fp32)
    throw InputError("--dtype fp32: the memory model covers bf16, fp16 and fp8 weights");
  if (r.kv_dtype == DType::fp32)
    throw InputError("--kv-cache-dtype fp32: use auto, bf16, fp16 or fp8");
  if (r.mode == MemoryMode::train && r.weight_dtype == DType::fp8)
    throw InputError("--mode train --dtype fp8: training is modelled with bf16 or fp16 weights (fp32 master "
                     "copies in Adam); use --dtype bf16");
  validate_layout(m, r.weight_dtype, r.layout);
  // The model's size is bounded by m.validate; what is left to grow is batch x context.
  const int64_t total = count_memory(r).total_bytes();
  if (beyond_any_machine(total))
    throw InputError(fmt::format("--batch-size {} x context {} needs {} per GPU, beyond any machine (more than {} "
                                 "TiB): lower --batch-size, --input-len or --output-len",
                                 r.batch_size, r.context_len(),
                                 total == kSizeSaturated ? std::string("more than 2^63 bytes")
                                                         : fmt::format("{:.3g} bytes", double(total)),
                                 kMaxMachineBytes >> 40));
}

int64_t WeightBytes::total() const {
  return size_add(attention, routed_experts, shared_experts, dense_mlp, router, embedding, lm_head, norms);
}

WeightBytes weight_bytes_per_gpu(const ModelConfig& m, DType dtype, ParallelLayout p) {
  const int64_t h = m.hidden_size;
  const int64_t moe_layers = m.moe_layer_count();
  WeightTally attention, routed, shared, dense, router, embedding, lm_head, norms;
  WeightTally one_layer_attention = attention_tally(m, p.tp);
  attention.linear_elements = size_mul(one_layer_attention.linear_elements, m.num_layers);
  attention.scale_blocks = size_mul(one_layer_attention.scale_blocks, m.num_layers);
  attention.plain_elements = size_mul(one_layer_attention.plain_elements, m.num_layers);

  swiglu_mlp(routed, h, m.moe_intermediate_size, p.moe_tp(), size_mul(moe_layers, m.num_experts / p.ep));
  if (m.num_shared_experts > 0)
    swiglu_mlp(shared, h, m.shared_intermediate_size, p.moe_tp(), size_mul(moe_layers, m.num_shared_experts));
  if (m.first_k_dense_replace > 0) swiglu_mlp(dense, h, m.dense_intermediate_size, p.tp, m.first_k_dense_replace);

  router.plain(size_mul(moe_layers, h, m.num_experts));
  if (m.shared_expert_gate) router.plain(size_mul(moe_layers, h));
  if (m.score_correction_bias) router.fp32_elements = size_mul(moe_layers, m.num_experts);

  const int64_t vocab_rows = vocab_rows_per_gpu(m, p.tp);
  embedding.plain(size_mul(vocab_rows, h));
  if (!m.tie_word_embeddings) lm_head.plain(size_mul(vocab_rows, h));
  norms.plain(size_mul(2 * int64_t(m.num_layers) + 1, h));  // two per layer, one final

  WeightBytes w;
  w.attention = attention.bytes(dtype);
  w.routed_experts = routed.bytes(dtype);
  w.shared_experts = shared.bytes(dtype);
  w.dense_mlp = dense.bytes(dtype);
  w.router = router.bytes(dtype);
  w.embedding = embedding.bytes(dtype);
  w.lm_head = lm_head.bytes(dtype);
  w.norms = norms.bytes(dtype);
  for (const WeightTally* t : {&attention, &routed, &shared, &dense, &router, &embedding, &lm_head, &norms})
    w.parameters = size_add(w.parameters, t->elements());
  return w;
}

int64_t moe_layer_expert_bytes(const ModelConfig& m, DType dtype, ParallelLayout p) {
  WeightTally t;
  swiglu_mlp(t, m.hidden_size, m.moe_intermediate_size, p.moe_tp(), m.num_experts / p.ep);
  if (m.num_shared_experts > 0) swiglu_mlp(t, m.hidden_size, m.shared_intermediate_size, p.moe_tp(), m.num_shared_experts);
  return t.bytes(dtype);
}

int64_t layer_io_bytes(const ModelConfig& m, int64_t tokens, DType dtype) {
  return size_add(size_mul(2, tokens, m.hidden_size, dtype_bytes(activation_dtype(dtype))),
                  size_mul(tokens, m.num_experts, 4));
}

void check_layer_tokens(const ModelConfig& m, int64_t tokens, DType dtype) {
  const int64_t bytes = layer_io_bytes(m, tokens, dtype);
  if (beyond_any_machine(bytes))
    throw InputError(fmt::format("--num-tokens {}: the layer's inputs and outputs alone take {}, beyond any machine "
                                 "(more than {} TiB): lower --num-tokens",
                                 tokens,
                                 bytes == kSizeSaturated ? std::string("more than 2^63 bytes")
                                                         : fmt::format("{:.3g} bytes", double(bytes)),
                                 kMaxMachineBytes >> 40));
}

int64_t cpu_layer_resident_bytes(const ModelConfig& m, int64_t tokens, DType dtype) {
  const int64_t per_element = size_add(dtype_bytes(dtype), 4);  // the dtype, and fp32 packed
  const int64_t routed = std::min<int64_t>(m.num_experts, size_mul(tokens, m.top_k));
  const int64_t experts = size_add(size_mul(routed, 3, m.hidden_size, m.moe_intermediate_size),
                                   size_mul(m.num_shared_experts, 3, m.hidden_size, m.shared_intermediate_size));
  const int64_t io = layer_io_bytes(m, tokens, dtype);
  constexpr int64_t kRotatingBytes = int64_t(1) << 30;  // the layer runner's bound on its input sets
  return size_add(size_mul(experts, per_element), std::min(size_mul(8, io), std::max(io, kRotatingBytes)));
}

int64_t kv_cache_bytes_per_token(const ModelConfig& m, DType kv_dtype, int tp) {
  const int64_t b = dtype_bytes(kv_dtype);
  if (m.attention == AttentionKind::mla)
    return size_mul(m.num_layers, int64_t(m.kv_lora_rank) + m.qk_rope_head_dim, b);
  return size_mul(2, m.num_layers, kv_heads_per_gpu(m, tp), m.head_dim, b);
}

std::vector<int64_t> cuda_graph_batch_sizes(int64_t max_bs) {
  // SGLang's capture list: 1, 2, 4, 8, 12, then steps of 8 to 256, 16 to 512, 32 beyond.
  std::vector<int64_t> sizes = {1};
  while (sizes.back() < max_bs) {
    const int64_t bs = sizes.back();
    sizes.push_back(bs < 8 ? 2 * bs : bs < 16 ? bs + 4 : bs < 256 ? bs + 8 : bs < 512 ? bs + 16 : bs + 32);
  }
  return sizes;
}

int64_t MemoryBreakdown::total_bytes() const {
  int64_t total = 0;
  for (const MemoryLine& l : lines) total = size_add(total, l.bytes);
  return total;
}

int64_t MemoryBreakdown::weight_bytes() const {
  int64_t total = 0;
  for (const MemoryLine& l : lines)
    if (l.key.rfind("weights.", 0) == 0) total = size_add(total, l.bytes);
  return total;
}

int64_t MemoryBreakdown::bytes_of(const std::string& key) const {
  for (const MemoryLine& l : lines)
    if (l.key == key) return l.bytes;
  return 0;
}

MemoryBreakdown estimate_memory(const MemoryRequest& r) {
  validate_memory_request(r);
  return count_memory(r);
}

MemoryBreakdown count_memory(const MemoryRequest& r) {
  const WeightBytes w = weight_bytes_per_gpu(r.model, r.weight_dtype, r.layout);
  MemoryBreakdown out;
  out.parameters_per_gpu = w.parameters;
  out.kv_bytes_per_token = kv_cache_bytes_per_token(r.model, r.kv_dtype, r.layout.tp);
  add_weight_lines(out.lines, r, w);
  if (r.mode == MemoryMode::inference)
    add_inference_lines(out.lines, r, out.kv_bytes_per_token);
  else
    add_training_lines(out.lines, r, w);
  if (r.layout.tp > 1)
    out.lines.push_back({"nccl", "NCCL buffers", kNcclChannels * 2 * kNcclBytesPerConnection + kAllReduceWorkspaceBytes,
                         true, fmt::format("{} channels x 2 x {} MiB + {} MiB all-reduce workspace (as SGLang allocates per rank)",
                                           kNcclChannels, kNcclBytesPerConnection / kMiB,
                                           kAllReduceWorkspaceBytes / kMiB)});
  out.lines.push_back({"cuda_context", "CUDA context, library workspaces", kCudaContextBytes, true,
                       "fresh process, CUDA lazy loading"});
  return out;
}

}  // namespace moebench
