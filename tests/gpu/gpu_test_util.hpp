#pragma once
// Shared pieces of the GPU tests: the skip rule, small model shapes, and one verified
// forward of an implementation on fresh inputs.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "core/errors.hpp"
#include "bench/verify.hpp"
#include "moe/layer_weights.hpp"
#include "moe/moe_impl.hpp"
#include "routing/scenarios.hpp"

#define REQUIRE_GPU()                                                  \
  do {                                                                 \
    if (!::moebench::cuda_available()) GTEST_SKIP() << "no CUDA GPU visible"; \
  } while (0)

namespace moebench::testing {

inline std::vector<const ImplInfo*> cuda_impls() {
  std::vector<const ImplInfo*> out;
  for (const ImplInfo& info : all_impls())
    if (info.backend == BackendKind::cuda) out.push_back(&info);
  return out;
}

inline ModelConfig gpu_test_model(const std::string& name, int experts, int top_k, int64_t hidden, int64_t inter,
                                  Activation act = Activation::silu) {
  ModelConfig m;
  m.name = name;
  m.num_experts = experts;
  m.top_k = top_k;
  m.hidden_size = hidden;
  m.moe_intermediate_size = inter;
  m.activation = act;
  return m;
}

// The shapes the GPU tests sweep: softmax and sigmoid-grouped routing, shared experts with and
// without a gate, every activation, top-k 1 and 8, and sizes that are not multiples of 8.
inline std::vector<ModelConfig> gpu_test_models() {
  std::vector<ModelConfig> models;
  models.push_back(gpu_test_model("mixtral-like", 8, 2, 256, 512));
  ModelConfig ds = gpu_test_model("deepseek-like", 64, 8, 512, 256);
  ds.scoring = ScoringFunc::sigmoid;
  ds.n_group = 8;
  ds.topk_group = 4;
  ds.score_correction_bias = true;
  ds.routed_scaling_factor = 2.5;
  ds.num_shared_experts = 1;
  ds.shared_intermediate_size = 256;
  models.push_back(ds);
  models.push_back(gpu_test_model("top1-gelu", 16, 1, 384, 128, Activation::gelu));
  ModelConfig qw = gpu_test_model("qwen2-gated-shared", 60, 4, 256, 128, Activation::swigluoai);
  qw.num_shared_experts = 1;
  qw.shared_intermediate_size = 512;
  qw.shared_expert_gate = true;
  models.push_back(qw);
  // Multiples of 8 for the CUTLASS kernels, but not of 64 for fused's gated epilogue.
  models.push_back(gpu_test_model("inter-72", 16, 2, 256, 72));
  models.push_back(gpu_test_model("odd-sizes", 12, 3, 200, 100));
  for (ModelConfig& m : models) m.validate(true);
  return models;
}

struct GpuRun {
  VerifyResult verify;
  std::vector<uint16_t> out;
  std::vector<std::pair<std::string, double>> counters;  // the implementation's, after the run
};

// A shape the implementation refuses in prepare() (InputError), e.g. a CUTLASS kernel and
// sizes that are not multiples of 8.
struct Unsupported {
  std::string why;
};
// Asked to replay a graph of an implementation that cannot be recorded (the eager baseline).
struct NotRecordable {};

// Weights, inputs and logits for `tokens`; poisons the output, runs `impl` once (eagerly, or
// recorded as a CUDA graph and replayed), verifies every output element against the fp64
// reference (all tokens up to `verify_tokens`). With `rebound`, the implementation is prepared
// on another layer's weights and then bound to these (as the model benchmark switches layers).
inline GpuRun run_and_verify(Backend& backend, const ImplInfo& info, const ModelConfig& model, DType dtype,
                             Scenario scenario, int64_t tokens, uint64_t seed, int64_t verify_tokens = 512,
                             bool as_graph = false, bool rebound = false) {
  LayerSpec spec;
  spec.model = model;
  spec.dtype = dtype;
  spec.max_tokens = tokens;
  spec.seed = seed;
  LayerWeightStore weights(backend, spec);
  const size_t act = size_t(tokens * model.hidden_size);
  DeviceBuffer x(backend, act * 2), out(backend, act * 2), logits_dev(backend, size_t(tokens * model.num_experts) * 4);
  backend.fill_synthetic(x.get(), dtype, act, seed, hidden_states_stream(0), 0, hidden_states_scale());
  double factor = std::min(3.0, max_imbalance_factor(model));
  std::vector<float> logits = scenario_logits(model, scenario, tokens, factor, seed);
  backend.copy_to_device(logits_dev.get(), logits.data(), logits.size() * 4);
  backend.fill_bytes(out.get(), 0xFF, act * 2);

  std::unique_ptr<MoeImpl> impl = info.make(backend);
  std::unique_ptr<LayerWeightStore> other_layer;
  if (rebound) {
    LayerSpec other = spec;
    other.seed = seed + 1;
    other_layer = std::make_unique<LayerWeightStore>(backend, other);
  }
  try {
    impl->prepare(spec, rebound ? other_layer->view() : weights.view());
  } catch (const InputError& e) {
    throw Unsupported{e.what()};
  }
  if (rebound) impl->bind_weights(weights.view());
  LayerArgs args{x.get(), logits_dev.as<float>(), out.get(), tokens};
  if (as_graph) {
    if (!impl->recordable(tokens)) throw NotRecordable{};
    std::unique_ptr<RecordedWork> graph = backend.record([&] { impl->forward(args); });
    if (!graph) throw std::runtime_error("the CUDA backend did not record a graph");
    backend.fill_bytes(out.get(), 0xFF, act * 2);  // recording ran nothing: poison again anyway
    graph->replay();
  } else {
    impl->forward(args);
  }
  backend.synchronize();

  GpuRun run;
  std::vector<uint16_t> x_host(act);
  run.out.resize(act);
  backend.copy_to_host(x_host.data(), x.get(), act * 2);
  backend.copy_to_host(run.out.data(), out.get(), act * 2);
  run.verify = verify_layer_output(backend, spec, weights.view(), x_host.data(), logits.data(), tokens,
                                   run.out.data(), verify_tokens, impl->routing_tile_rows(tokens));
  run.counters = impl->counters();
  return run;
}

}  // namespace moebench::testing
