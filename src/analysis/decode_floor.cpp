#include "analysis/decode_floor.hpp"

#include "analysis/memory_model.hpp"

namespace moebench {

DecodeStepBytes decode_step_bytes(const ModelConfig& m, DType dtype, int64_t batch, int64_t context,
                                  const std::vector<int>& active_experts) {
  const int64_t b = dtype_bytes(dtype), H = m.hidden_size;
  const WeightBytes w = weight_bytes_per_gpu(m, dtype, ParallelLayout{});
  DecodeStepBytes out;
  // All weights but the routed experts and the embedding table, of which the step reads only
  // the batch's rows (the LM head is read whole, tied or not).
  out.weights = w.attention + w.dense_mlp + w.router + w.shared_experts + w.norms + m.vocab_size * H * b + batch * H * b;
  const int64_t expert_bytes = 3 * H * m.moe_intermediate_size * b;
  for (int active : active_experts) out.routed_experts += int64_t(active) * expert_bytes;
  out.kv_cache = batch * context * kv_cache_bytes_per_token(m, dtype, 1);
  return out;
}

double bandwidth_floor_ms(int64_t bytes, double copy_gbps) { return double(bytes) / (copy_gbps * 1e9) * 1e3; }

}  // namespace moebench
