#include "analysis/decode_floor.hpp"

#include "analysis/memory_model.hpp"

namespace moebench {

DecodeStepBytes decode_step_bytes(const ModelConfig& m, DType dtype, int64_t batch, int64_t context,
                                  const std::vector<int>& active_experts, ParallelLayout layout) {
  const int64_t b = dtype_bytes(dtype), H = m.hidden_size;
  const WeightBytes w = weight_bytes_per_gpu(m, dtype, layout);
  DecodeStepBytes out;
  // All weights but the routed experts and the embedding table, of which the step reads only
  // the batch's rows (the LM head's rows are read whole, tied or not).
  out.weights = w.attention + w.dense_mlp + w.router + w.shared_experts + w.norms +
                vocab_rows_per_rank(m, layout.tp) * H * b + batch * H * b;
  const int64_t expert_bytes = 3 * H * m.moe_intermediate_size * b;
  for (int active : active_experts) out.routed_experts += int64_t(active) * expert_bytes / layout.tp;
  out.kv_cache = batch * context * kv_cache_bytes_per_token(m, dtype, layout.tp);
  return out;
}

double bandwidth_floor_ms(int64_t bytes, double copy_gbps) { return double(bytes) / (copy_gbps * 1e9) * 1e3; }

}  // namespace moebench
