#include "bench/layer_runner.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include <fmt/format.h>

#include "analysis/memory_model.hpp"
#include "analysis/roofline.hpp"
#include "bench/verify.hpp"
#include "core/errors.hpp"
#include "moe/layer_weights.hpp"
#include "moe/moe_impl.hpp"
#include "routing/routing.hpp"

namespace moebench {

namespace {

constexpr int64_t kMaxRotatingBytes = int64_t(1) << 30;

// Bytes of one rotating input set: x and out [T][H] in the dtype, logits [T][E] float.
int64_t io_set_bytes(const ModelConfig& m, int64_t tokens, DType dtype) { return layer_io_bytes(m, tokens, dtype); }

// Enough input sets that one pass over them exceeds three times the L2, so timed iterations
// read from HBM, not cache; at least 2, at most 8, and never more than 1 GiB of them.
int rotation_count(int64_t set_bytes, int64_t l2_bytes) {
  int64_t wanted = l2_bytes > 0 ? (3 * l2_bytes + set_bytes - 1) / set_bytes : 2;
  int64_t count = std::clamp<int64_t>(wanted, 2, 8);
  count = std::min<int64_t>(count, std::max<int64_t>(1, kMaxRotatingBytes / set_bytes));
  return int(count);
}

// The layer runs on one device: all experts, whole.
int64_t weight_bytes(const ModelConfig& m, DType dtype) { return moe_layer_expert_bytes(m, dtype, ParallelLayout{}); }

struct RotatingInputs {
  std::vector<DeviceBuffer> x, logits, out;
};

RotatingInputs make_inputs(Backend& backend, const LayerRunOptions& opt, int64_t tokens,
                           const std::vector<float>& logits_host, int rotations) {
  const ModelConfig& m = opt.model;
  const size_t act_bytes = size_t(tokens * m.hidden_size * dtype_bytes(opt.dtype));
  RotatingInputs in;
  for (int r = 0; r < rotations; ++r) {
    in.x.emplace_back(backend, act_bytes);
    backend.fill_synthetic(in.x.back().get(), opt.dtype, size_t(tokens * m.hidden_size), opt.seed,
                           hidden_states_stream(r), 0, hidden_states_scale());
    in.logits.emplace_back(backend, logits_host.size() * sizeof(float));
    backend.copy_to_device(in.logits.back().get(), logits_host.data(), logits_host.size() * sizeof(float));
    in.out.emplace_back(backend, act_bytes);
    backend.fill_bytes(in.out.back().get(), 0xFF, act_bytes);
  }
  return in;
}

LayerArgs args_for(const RotatingInputs& in, int r, int64_t tokens) {
  LayerArgs a;
  a.x = in.x[size_t(r)].get();
  a.logits = in.logits[size_t(r)].as<float>();
  a.out = in.out[size_t(r)].get();
  a.num_tokens = tokens;
  return a;
}

}  // namespace

void validate_layer_options(const LayerRunOptions& opt) {
  opt.model.validate(/*layer_only=*/true);
  if (opt.num_tokens.empty()) throw InputError("--num-tokens: give at least one token count");
  for (int64_t t : opt.num_tokens) {
    if (t <= 0) throw InputError(fmt::format("--num-tokens: token counts must be positive (got {})", t));
    check_layer_tokens(opt.model, t, opt.dtype);
  }
  if (opt.scenarios.empty()) throw InputError("--scenarios: give at least one scenario");
  if (opt.warmup_iters < 0) throw InputError(fmt::format("--warmup-iters must be >= 0 (got {})", opt.warmup_iters));
  if (opt.benchmark_iters <= 0)
    throw InputError(fmt::format("--benchmark-iters must be positive (got {})", opt.benchmark_iters));
  if (opt.ep_size <= 0) throw InputError(fmt::format("--ep-size must be positive (got {})", opt.ep_size));
  if (opt.tp_size <= 0) throw InputError(fmt::format("--tp-size must be positive (got {})", opt.tp_size));
  if (opt.model.num_experts % opt.ep_size != 0)
    throw InputError(fmt::format("num_experts ({}) must be divisible by ep_size ({}): choose an --ep-size "
                                 "that divides {}", opt.model.num_experts, opt.ep_size, opt.model.num_experts));
  if (opt.tp_size % opt.ep_size != 0)
    throw InputError(fmt::format("--tp-size ({}) must be a multiple of --ep-size ({}): tp_size counts all "
                                 "devices, tp_size / ep_size of them split each expert", opt.tp_size, opt.ep_size));
  if (opt.tp_size > 1)
    throw InputError(fmt::format("--tp-size {} --ep-size {}: this build runs the layer on one device; "
                                 "multi-GPU expert/tensor parallelism needs src/dist (not built yet), use 1",
                                 opt.tp_size, opt.ep_size));
  if (std::find(opt.scenarios.begin(), opt.scenarios.end(), Scenario::imbalanced) != opt.scenarios.end())
    check_imbalance_factor(opt.model, opt.imbalance_factor);
  if (opt.verify_tokens <= 0)
    throw InputError(fmt::format("--verify-tokens must be positive (got {})", opt.verify_tokens));
  if (opt.dtype != DType::bf16 && opt.dtype != DType::fp16)
    throw InputError(fmt::format("--dtype {}: the layer benchmark runs bf16 or fp16", dtype_name(opt.dtype)));
}

int64_t layer_run_bytes(const LayerRunOptions& opt) {
  int64_t max_tokens = *std::max_element(opt.num_tokens.begin(), opt.num_tokens.end());
  int64_t set = io_set_bytes(opt.model, max_tokens, opt.dtype);
  return size_add(weight_bytes(opt.model, opt.dtype), std::min<int64_t>(size_mul(8, set), std::max(set, kMaxRotatingBytes)));
}

std::vector<LayerResult> run_layer_benchmark(Backend& backend, const LayerRunOptions& opt,
                                             const Ceilings& ceilings, const ProgressFn& progress) {
  validate_layer_options(opt);
  const ModelConfig& m = opt.model;
  const DeviceInfo device = backend.device_info();
  std::vector<const ImplInfo*> infos = select_impls(opt.impls, backend.kind());

  LayerSpec spec;
  spec.model = m;
  spec.dtype = opt.dtype;
  spec.max_tokens = *std::max_element(opt.num_tokens.begin(), opt.num_tokens.end());
  spec.seed = opt.seed;
  LayerWeightStore weights(backend, spec);
  const std::vector<float> bias = score_bias_values(m, opt.seed);

  // Implementations are prepared once for the largest token count and reused.
  std::vector<std::unique_ptr<MoeImpl>> impls;
  std::vector<int64_t> workspace_bytes;
  std::vector<Profiler::SpanId> setup_spans;  // each implementation's preparation, for its traces
  for (const ImplInfo* info : infos) {
    PhaseScope setup(opt.profiler, fmt::format("setup {}", info->name), "setup");
    setup_spans.push_back(setup.span());
    backend.reset_peak_allocated();
    int64_t before = backend.peak_allocated_bytes();
    impls.push_back(info->make(backend));
    impls.back()->prepare(spec, weights.view());
    backend.synchronize();
    workspace_bytes.push_back(backend.peak_allocated_bytes() - before);
  }

  const int total = int(opt.scenarios.size() * opt.num_tokens.size() * infos.size());
  int done = 0;
  std::vector<LayerResult> results;
  for (Scenario scenario : opt.scenarios) {
    for (int64_t tokens : opt.num_tokens) {
      PhaseScope inputs_phase(opt.profiler, fmt::format("inputs {} tokens={}", scenario_name(scenario), tokens),
                              "setup");
      std::vector<float> logits = scenario_logits(m, scenario, tokens, opt.imbalance_factor, opt.seed);
      LoadStats load = load_stats(route(m, logits.data(), tokens, bias));
      LayerWork work = layer_work(m, tokens, opt.dtype, load.active_experts);
      const int64_t set_bytes = io_set_bytes(m, tokens, opt.dtype);
      const int rotations = rotation_count(set_bytes, device.l2_bytes);
      RotatingInputs inputs = make_inputs(backend, opt, tokens, logits, rotations);
      const size_t act_elems = size_t(tokens * m.hidden_size);
      std::vector<uint16_t> x_host(act_elems), out_host(act_elems);
      backend.copy_to_host(x_host.data(), inputs.x[0].get(), act_elems * sizeof(uint16_t));
      inputs_phase.end();

      for (size_t i = 0; i < infos.size(); ++i) {
        MoeImpl& impl = *impls[i];
        if (progress)
          progress(done, total, fmt::format("{} tokens={} impl={}", scenario_name(scenario), tokens, infos[i]->name));
        PhaseScope run_phase(opt.profiler,
                             fmt::format("{} {} tokens={}", infos[i]->name, scenario_name(scenario), tokens), "run");
        LayerResult r;
        r.model = m.name;
        r.impl = infos[i]->name;
        r.scenario = scenario_name(scenario);
        r.backend = backend_kind_name(backend.kind());
        r.device = device.name;
        r.dtype = dtype_name(opt.dtype);
        r.num_tokens = tokens;
        r.ep_size = opt.ep_size;
        r.tp_size = opt.tp_size;
        r.num_experts = m.num_experts;
        r.top_k = m.top_k;
        r.hidden_size = m.hidden_size;
        r.intermediate_size = m.moe_intermediate_size;
        r.num_shared_experts = m.num_shared_experts;
        r.load = load;

        // One recorded forward per rotating input set where the implementation allows it (CUDA
        // graphs): the timed path, and the path verified below, are the replays.
        PhaseScope prepare_phase(opt.profiler, "prepare");
        std::vector<std::unique_ptr<RecordedWork>> recorded;
        if (impl.recordable(tokens))
          for (int rot = 0; rot < rotations; ++rot) {
            recorded.push_back(backend.record([&] { impl.forward(args_for(inputs, rot, tokens)); }));
            if (!recorded.back()) {
              recorded.clear();
              break;
            }
          }
        auto run_forward = [&](int rot) {
          if (recorded.empty())
            impl.forward(args_for(inputs, rot, tokens));
          else
            recorded[size_t(rot)]->replay();
        };
        r.launch = recorded.empty() ? "eager" : "graph";
        prepare_phase.end();

        // Verified run on poisoned output: every element must be written and match fp64.
        if (opt.verify) {
          PhaseScope verify_phase(opt.profiler, "verify");
          backend.fill_bytes(inputs.out[0].get(), 0xFF, act_elems * sizeof(uint16_t));
          run_forward(0);
          backend.synchronize();
          backend.copy_to_host(out_host.data(), inputs.out[0].get(), act_elems * sizeof(uint16_t));
          VerifyResult v = verify_layer_output(backend, spec, weights.view(), x_host.data(), logits.data(),
                                               tokens, out_host.data(), opt.verify_tokens,
                                               impl.routing_tile_rows(tokens));
          r.verified = true;
          r.verify_passed = v.passed;
          r.verify_error = v.rel_error;
          r.verify_tokens = v.tokens_checked;
          r.unwritten_outputs = v.unwritten;
        }

        if (opt.warmup_iters > 0) {
          PhaseScope warmup_phase(opt.profiler, "warmup");
          for (int w = 0; w < opt.warmup_iters; ++w) run_forward(w % rotations);
        }
        // On a GPU an iteration's host span is the time to enqueue it; its device time is
        // the kernels' spans (CUPTI) or the phase's event span.
        std::vector<std::unique_ptr<IntervalTimer>> timers;
        for (int it = 0; it < opt.benchmark_iters; ++it) {
          timers.push_back(backend.make_timer());
          PhaseScope iteration_phase(opt.profiler, fmt::format("iteration {}", it));
          timers.back()->start();
          run_forward((opt.warmup_iters + it) % rotations);
          timers.back()->stop();
        }
        {
          PhaseScope drain_phase(opt.profiler, "synchronize");
          backend.synchronize();
        }
        std::vector<double> samples;
        for (auto& t : timers) samples.push_back(t->elapsed_ms());
        r.latency_ms = summarize(samples);
        r.counters = impl.counters();

        const double seconds = r.latency_ms.mean * 1e-3;
        r.throughput_tok_per_sec = double(tokens) / seconds;
        r.flops = work.flops;
        r.bytes_min = work.bytes_min;
        r.tflops = work.flops / seconds / 1e12;
        r.gbps = work.bytes_min / seconds / 1e9;
        r.floor_ms = roofline_floor_ms(work, ceilings);
        r.efficiency = r.floor_ms / r.latency_ms.p50;
        r.peak_memory_bytes = weights.bytes() + int64_t(rotations) * set_bytes + workspace_bytes[i];
        run_phase.end();
        if (opt.profiler)
          opt.profiler->write_run({r.model, r.impl, r.scenario, tokens}, run_phase.span(),
                                  {setup_spans[i], inputs_phase.span()});
        results.push_back(std::move(r));
        ++done;
      }
    }
  }
  if (progress) progress(done, total, "done");
  return results;
}

}  // namespace moebench
