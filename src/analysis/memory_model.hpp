#pragma once
// Per-GPU memory of a model run, before anything is allocated (seeds 000, 001, 004).
//
// Exact byte counts where the shapes decide (weights, fp8 scales, KV cache, the buffers of
// one layer), stated estimates where the runtime decides (CUDA graph pools, NCCL buffers,
// the CUDA context). Each line of the breakdown says which it is and how it was counted.
// The parallel layout has SGLang's meaning (analysis/parallel_layout.hpp).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/parallel_layout.hpp"
#include "core/defaults.hpp"
#include "core/dtype.hpp"
#include "core/model_config.hpp"
#include "core/size_math.hpp"

namespace moebench {

enum class MemoryMode { inference, train };
MemoryMode parse_memory_mode(const std::string& text);  // inference | train; throws InputError
const char* memory_mode_name(MemoryMode mode);

struct MemoryRequest {
  ModelConfig model;  // with its decoder stack (not layer-only)
  ParallelLayout layout;
  // bf16, fp16, or fp8: linear layers in e4m3 with one fp32 scale per 128 x 128 block;
  // embeddings, LM head, router and norms stay bf16, as in the published fp8 checkpoints.
  DType weight_dtype = DType::bf16;
  DType kv_dtype = DType::bf16;
  MemoryMode mode = MemoryMode::inference;
  int64_t batch_size = 1;
  int64_t input_len = kDefaultInputLen;
  int64_t output_len = kDefaultOutputLen;
  // Prompt tokens one prefill step processes; 0: the whole batch's prompts at once.
  int64_t chunked_prefill_size = kDefaultChunkedPrefillSize;
  // Largest decode batch captured in CUDA graphs; nothing: the batch size; 0: no graphs.
  std::optional<int64_t> cuda_graph_max_bs;

  int64_t context_len() const { return size_add(input_len, output_len); }
  // bf16 unless the weights are fp16: fp8 checkpoints compute in bf16.
  DType activation_dtype() const { return weight_dtype == DType::fp16 ? DType::fp16 : DType::bf16; }
};

// batch x context beyond this (68.7 billion tokens) is refused: no GPU holds it, and the byte
// counts of larger runs would overflow.
constexpr int64_t kMaxMemoryTokens = int64_t(1) << 36;

// Throws InputError naming the flag: batch 0, a context longer than max_position_embeddings,
// a layout the model cannot be split over, fp8 training, a layer-only config, and any request
// whose count comes to more than any machine holds (kMaxMachineBytes).
void validate_memory_request(const MemoryRequest& request);

// Weights held by one GPU, by part; fp8 scales are counted with the weights they scale.
struct WeightBytes {
  int64_t attention = 0;       // projections (and MLA's norms); heads split tp ways
  int64_t routed_experts = 0;  // 1/tp of them (ep ways by expert x tp/ep ways within)
  int64_t shared_experts = 0;  // split tp/ep ways, replicated across ep
  int64_t dense_mlp = 0;       // first_k_dense_replace layers, split tp ways
  int64_t router = 0;          // gate (and correction bias), replicated
  int64_t embedding = 0;       // vocab-parallel: ceil(vocab / tp) rows
  int64_t lm_head = 0;         // vocab-parallel; 0 when tied to the embedding
  int64_t norms = 0;           // RMSNorm weights, replicated
  int64_t parameters = 0;      // elements held, all parts together (scales not counted)
  int64_t total() const;
};
WeightBytes weight_bytes_per_gpu(const ModelConfig& model, DType weight_dtype, ParallelLayout layout);

// Routed and shared expert weights of one MoE layer on one GPU (what `layer` allocates).
int64_t moe_layer_expert_bytes(const ModelConfig& model, DType weight_dtype, ParallelLayout layout);

// One input set of the layer benchmark at `tokens` tokens: x and out [T][H] in the dtype,
// router logits [T][E] in fp32.
int64_t layer_io_bytes(const ModelConfig& model, int64_t tokens, DType dtype);
// Throws InputError naming --num-tokens when that set alone is beyond any machine.
void check_layer_tokens(const ModelConfig& model, int64_t tokens, DType dtype);

// What a layer run on the CPU backend keeps resident at `tokens` tokens: the routed experts
// that many tokens can select (at most tokens x top_k), each filled in the layer dtype on first
// use and packed in fp32 by the reference, the shared experts likewise, and its input sets.
int64_t cpu_layer_resident_bytes(const ModelConfig& model, int64_t tokens, DType dtype);

// KV cache bytes of one token on one GPU, all layers: GQA keeps K and V of
// max(1, kv_heads / tp) heads per layer; MLA keeps kv_lora_rank + qk_rope_head_dim values per
// layer, the same on every GPU.
int64_t kv_cache_bytes_per_token(const ModelConfig& model, DType kv_dtype, int tp);

struct MemoryLine {
  std::string key;    // stable name for JSON: "weights.routed_experts", "kv_cache", ...
  std::string label;  // for the table
  int64_t bytes = 0;
  bool estimate = false;  // set by the runtime, not the shapes: an estimate, said so
  std::string basis;      // how it was counted, one short phrase
};

struct MemoryBreakdown {
  std::vector<MemoryLine> lines;  // non-empty parts, in table order
  int64_t kv_bytes_per_token = 0;  // per GPU (inference)
  int64_t parameters_per_gpu = 0;
  int64_t total_bytes() const;
  int64_t weight_bytes() const;  // the "weights.*" lines together
  int64_t bytes_of(const std::string& key) const;  // 0 when absent
};

// Validates the request, then counts every part.
MemoryBreakdown estimate_memory(const MemoryRequest& request);
// Counts every part of a request already validated but for its batch or layout (the fit
// searches vary them); counts saturate at kSizeSaturated, never wrap.
MemoryBreakdown count_memory(const MemoryRequest& request);

// The decode batch sizes SGLang captures in CUDA graphs, up to the first one >= max_bs.
std::vector<int64_t> cuda_graph_batch_sizes(int64_t max_bs);

}  // namespace moebench
