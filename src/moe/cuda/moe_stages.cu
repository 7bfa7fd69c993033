#include "moe/cuda/moe_stages.cuh"

#include "backend/cuda_backend.hpp"
#include "moe/cuda/expert_kernels.cuh"
#include "moe/cuda/skinny_gemm.cuh"

namespace moebench {

MoeStages::MoeStages(Backend& backend, const LayerSpec& spec, const LayerWeights& weights, int64_t extra_rows,
                     GateUpOut gate_up_out)
    : backend_(backend),
      spec_(spec),
      weights_(weights),
      router_(router_params(spec.model)),
      stream_(cuda_stream(backend)),
      permutation_(backend, spec.model.num_experts, spec.model.top_k, spec.max_tokens) {
  const ModelConfig& m = spec.model;
  const int64_t slots = spec.max_tokens * m.top_k, rows = slots + extra_rows;
  const size_t elem = size_t(dtype_bytes(spec.dtype));
  ids_ = DeviceBuffer(backend, size_t(slots) * 4);
  route_weights_ = DeviceBuffer(backend, size_t(slots) * 4);
  rows_ = DeviceBuffer(backend, size_t(rows * m.hidden_size) * elem);
  expert_out_ = DeviceBuffer(backend, size_t(rows * m.hidden_size) * elem);
  if (gate_up_out == GateUpOut::allocate)
    gate_up_out_ = DeviceBuffer(backend, size_t(rows * 2 * m.moe_intermediate_size) * elem);
  activated_ = DeviceBuffer(backend, size_t(rows * m.moe_intermediate_size) * elem);
  if (m.num_shared_experts > 0) {
    shared_h_ = DeviceBuffer(backend, size_t(spec.max_tokens * 2 * m.shared_intermediate_size) * elem);
    shared_act_ = DeviceBuffer(backend, size_t(spec.max_tokens * m.shared_intermediate_size) * elem);
    shared_out_ = DeviceBuffer(backend, size_t(spec.max_tokens * m.hidden_size) * sizeof(float));
    if (weights.shared_gate) shared_gate_logits_ = DeviceBuffer(backend, size_t(spec.max_tokens) * sizeof(float));
  }
}

void MoeStages::select_experts(const LayerArgs& args) {
  launch_topk_routing(router_, args.logits, weights_.score_bias, args.num_tokens, ids_.as<int32_t>(),
                      route_weights_.as<float>(), stream_);
}

void MoeStages::route(const LayerArgs& args) {
  select_experts(args);
  permutation_.build(ids_.as<int32_t>(), args.num_tokens, stream_);
}

void MoeStages::route_and_gather(const LayerArgs& args) {
  route(args);
  gather_token_rows(args.x, permutation_.slot_rows(), spec_.model.top_k, args.num_tokens, spec_.model.hidden_size,
                    rows_.get(), stream_);
}

MoeStages::SharedOutput MoeStages::shared_experts(const LayerArgs& args) {
  const ModelConfig& m = spec_.model;
  const int64_t T = args.num_tokens, H = m.hidden_size, Is = m.shared_intermediate_size;
  SharedOutput result;
  if (m.num_shared_experts == 0 || T == 0) return result;
  cublasHandle_t handle = cublas_handle(backend_);
  const size_t elem = size_t(dtype_bytes(spec_.dtype));
  for (int s = 0; s < m.num_shared_experts; ++s) {
    const char* w13 = static_cast<const char*>(weights_.shared_w13) + size_t(s) * size_t(2 * Is * H) * elem;
    const char* w2 = static_cast<const char*>(weights_.shared_w2) + size_t(s) * size_t(H * Is) * elem;
    gemm_rows_or_skinny(handle, stream_, args.x, w13, shared_h_.get(), T, 2 * Is, H, spec_.dtype);
    launch_gated_activation(m.activation, shared_h_.get(), T, Is, spec_.dtype, shared_act_.get(), stream_);
    // Shared experts accumulate in fp32: beta = 1 from the second on.
    gemm_rows_or_skinny(handle, stream_, shared_act_.get(), w2, shared_out_.get(), T, H, Is, spec_.dtype,
                        /*out_fp32=*/true, s == 0 ? 0.0f : 1.0f);
  }
  result.out = shared_out_.as<float>();
  if (weights_.shared_gate) {
    gemm_rows_or_skinny(handle, stream_, args.x, weights_.shared_gate, shared_gate_logits_.get(), T, 1, H,
                        spec_.dtype, true);
    result.gate_logits = shared_gate_logits_.as<float>();
  }
  return result;
}

void MoeStages::shared_and_combine(const LayerArgs& args, const int32_t* slot_rows, const ExtraRows& extra) {
  const ModelConfig& m = spec_.model;
  const SharedOutput shared = shared_experts(args);
  combine_rows(expert_out_.get(), slot_rows ? slot_rows : permutation_.slot_rows(), route_weights_.as<float>(),
               m.top_k, args.num_tokens, m.hidden_size, spec_.dtype, shared.out, shared.gate_logits, args.out,
               stream_, extra);
}

}  // namespace moebench
