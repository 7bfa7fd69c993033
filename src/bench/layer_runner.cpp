#include "bench/layer_runner.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <tuple>

#include <fmt/format.h>

#include "analysis/memory_model.hpp"
#include "analysis/roofline.hpp"
#include "bench/verify.hpp"
#include "core/errors.hpp"
#include "core/test_fault.hpp"
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
  const DType act = activation_dtype(opt.dtype);  // fp8 layers take bf16 hidden states
  const size_t act_bytes = size_t(tokens * m.hidden_size * dtype_bytes(act));
  RotatingInputs in;
  for (int r = 0; r < rotations; ++r) {
    in.x.emplace_back(backend, act_bytes);
    backend.fill_synthetic(in.x.back().get(), act, size_t(tokens * m.hidden_size), opt.seed,
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

// One implementation, prepared once for the largest token count and reused for every scenario
// and token count.
struct PreparedImpl {
  const ImplInfo* info = nullptr;
  std::unique_ptr<MoeImpl> impl;
  int64_t workspace_bytes = 0;      // what preparing it allocated beyond the weights
  Profiler::SpanId setup_span = 0;  // its preparation, for its traces
};

PreparedImpl prepare_impl(Backend& backend, const LayerRunOptions& opt, const ImplInfo* info, const LayerSpec& spec,
                          const LayerWeightStore& weights) {
  PhaseScope setup(opt.profiler, fmt::format("setup {}", info->name), "setup");
  PreparedImpl p;
  p.info = info;
  p.setup_span = setup.span();
  backend.reset_peak_allocated();
  const int64_t before = backend.peak_allocated_bytes();
  apply_impl_test_fault(info->name);
  p.impl = info->make(backend);
  p.impl->prepare(spec, weights.view());
  backend.synchronize();
  p.workspace_bytes = backend.peak_allocated_bytes() - before;
  return p;
}

// The inputs of one scenario x token count: the router logits and what their routing implies,
// and the rotating input sets on the backend. Made afresh for each implementation from the
// seed, so every implementation runs on the same values without all of them held at once.
struct CaseInputs {
  size_t index = 0;  // in layer_cases()
  const LayerCase* source = nullptr;
  int64_t tokens = 0;
  std::vector<float> logits;
  LoadStats load;
  LayerWork work;
  int64_t set_bytes = 0;  // one rotating set
  int rotations = 0;
  RotatingInputs inputs;
  std::vector<uint16_t> x_host;       // the first set's hidden states, for verification
  Profiler::SpanId inputs_span = 0;   // their making, for every run's trace
};

CaseInputs make_case_inputs(Backend& backend, const LayerRunOptions& opt, const DeviceInfo& device,
                            const std::vector<float>& bias, const std::vector<LayerCase>& cases, size_t index) {
  const ModelConfig& m = opt.model;
  const LayerCase& source = cases[index];
  const int64_t tokens = source.num_tokens;
  PhaseScope inputs_phase(opt.profiler, fmt::format("inputs {} tokens={}", source.label, tokens), "setup");
  CaseInputs c;
  c.index = index;
  c.source = &source;
  c.tokens = tokens;
  c.inputs_span = inputs_phase.span();
  c.logits = case_logits(opt, source);
  // A replay's load is the recording's (its logits were checked to route to it).
  c.load = load_stats(source.replay ? source.replay->recorded->routing : route(m, c.logits.data(), tokens, bias));
  c.work = layer_work(m, tokens, opt.dtype, c.load.active_experts, opt.fp8_scaling);
  c.set_bytes = io_set_bytes(m, tokens, opt.dtype);
  c.rotations = rotation_count(c.set_bytes, device.l2_bytes);
  c.inputs = make_inputs(backend, opt, tokens, c.logits, c.rotations);
  c.x_host.resize(size_t(tokens * m.hidden_size));
  backend.copy_to_host(c.x_host.data(), c.inputs.x[0].get(), c.x_host.size() * sizeof(uint16_t));
  return c;
}

// What identifies a result: the run's configuration, the implementation and the case.
LayerResult result_identity(const LayerRunOptions& opt, const Backend& backend, const DeviceInfo& device,
                            const std::string& impl, const CaseInputs& c) {
  const ModelConfig& m = opt.model;
  LayerResult r;
  r.model = m.name;
  r.impl = impl;
  r.scenario = c.source->label;
  r.backend = backend_kind_name(backend.kind());
  r.device = device.name;
  r.dtype = dtype_name(opt.dtype);
  if (opt.dtype == DType::fp8) r.fp8_scaling = fp8_scaling_name(opt.fp8_scaling);
  r.num_tokens = c.tokens;
  r.ep_size = opt.ep_size;
  r.tp_size = opt.tp_size;
  r.num_experts = m.num_experts;
  r.top_k = m.top_k;
  r.hidden_size = m.hidden_size;
  r.intermediate_size = m.moe_intermediate_size;
  r.num_shared_experts = m.num_shared_experts;
  r.load = c.load;
  return r;
}

// The forward of one implementation on one case's rotating input sets: recorded once per set
// where the implementation allows it (CUDA graphs), so that the timed path, and the path
// verified, are the replays; eager otherwise.
class CaseForward {
 public:
  CaseForward(Backend& backend, MoeImpl& impl, const CaseInputs& c) : impl_(impl), c_(c) {
    if (!impl.recordable(c.tokens)) return;
    for (int rot = 0; rot < c.rotations; ++rot) {
      recorded_.push_back(backend.record([&] { impl.forward(args_for(c.inputs, rot, c.tokens)); }));
      if (!recorded_.back()) {
        recorded_.clear();
        return;
      }
    }
  }

  void operator()(int rot) const {
    if (recorded_.empty())
      impl_.forward(args_for(c_.inputs, rot, c_.tokens));
    else
      recorded_[size_t(rot)]->replay();
  }

  const char* launch() const { return recorded_.empty() ? "eager" : "graph"; }

 private:
  MoeImpl& impl_;
  const CaseInputs& c_;
  std::vector<std::unique_ptr<RecordedWork>> recorded_;
};

// The fp64 references made so far, by case and tile rounding: every implementation of a
// scenario x token count is checked against one reference, made when the first needs it (the
// cases' inputs are the same values from the seed whichever implementation they are made for).
class ReferenceCache {
 public:
  const LayerReference& get(Backend& backend, const LayerRunOptions& opt, const LayerSpec& spec,
                            const LayerWeightStore& weights, const CaseInputs& c, int tile_rows) {
    const auto key = std::make_tuple(int(c.index), c.tokens, tile_rows);
    auto it = references_.find(key);
    const ReplayCase* replay = c.source->replay;
    if (it == references_.end())
      it = references_
               .emplace(key, replay && tile_rows == 0
                                 ? make_replayed_reference(backend, spec, weights.view(), c.x_host.data(),
                                                           replay->recorded->routing.expert_ids.data(),
                                                           replay->recorded->routing.weights.data(), c.tokens,
                                                           opt.verify_tokens)
                                 : make_layer_reference(backend, spec, weights.view(), c.x_host.data(),
                                                        c.logits.data(), c.tokens, opt.verify_tokens, tile_rows))
               .first;
    return it->second;
  }

 private:
  std::map<std::tuple<int, int64_t, int>, LayerReference> references_;
};

// An fp8 run's second reference: the bf16 layer of the same seed (its weights filled lazily,
// only the experts the checked tokens read), what the fp8 output's cost in accuracy is
// measured against.
struct Bf16Baseline {
  LayerSpec spec;
  std::unique_ptr<LayerWeightStore> weights;
  ReferenceCache references;
};

// Verified run on poisoned output: every element must be written and match fp64.
void verify_forward(Backend& backend, const LayerRunOptions& opt, const LayerSpec& spec,
                    const LayerWeightStore& weights, MoeImpl& impl, const CaseInputs& c,
                    const CaseForward& forward, ReferenceCache& references, Bf16Baseline* bf16, LayerResult& r) {
  PhaseScope verify_phase(opt.profiler, "verify");
  const size_t act_elems = c.x_host.size();
  std::vector<uint16_t> out_host(act_elems);
  backend.fill_bytes(c.inputs.out[0].get(), 0xFF, act_elems * sizeof(uint16_t));
  forward(0);
  backend.synchronize();
  backend.copy_to_host(out_host.data(), c.inputs.out[0].get(), act_elems * sizeof(uint16_t));
  const VerifyResult v = check_against_reference(
      references.get(backend, opt, spec, weights, c, impl.routing_tile_rows(c.tokens)), out_host.data());
  r.verified = true;
  r.verify_passed = v.passed;
  r.verify_error = v.rel_error;
  r.verify_tokens = v.tokens_checked;
  r.unwritten_outputs = v.unwritten;
  if (bf16)
    r.fp8_vs_bf16_error =
        check_against_reference(bf16->references.get(backend, opt, bf16->spec, *bf16->weights, c,
                                                     impl.routing_tile_rows(c.tokens)),
                                out_host.data())
            .rel_error;
}

void warm_up(const LayerRunOptions& opt, const CaseInputs& c, const CaseForward& forward) {
  if (opt.warmup_iters <= 0) return;
  PhaseScope warmup_phase(opt.profiler, "warmup");
  for (int w = 0; w < opt.warmup_iters; ++w) forward(w % c.rotations);
}

// The timed iterations' latencies in ms, continuing the rotation where the warm-up left it. On
// a GPU an iteration's host span is the time to enqueue it; its device time is the kernels'
// spans (CUPTI) or the phase's event span.
std::vector<double> time_iterations(Backend& backend, const LayerRunOptions& opt, const CaseInputs& c,
                                    const CaseForward& forward) {
  std::vector<std::unique_ptr<IntervalTimer>> timers;
  for (int it = 0; it < opt.benchmark_iters; ++it) {
    timers.push_back(backend.make_timer());
    PhaseScope iteration_phase(opt.profiler, fmt::format("iteration {}", it));
    timers.back()->start();
    forward((opt.warmup_iters + it) % c.rotations);
    timers.back()->stop();
  }
  {
    PhaseScope drain_phase(opt.profiler, "synchronize");
    backend.synchronize();
  }
  std::vector<double> samples;
  for (auto& t : timers) samples.push_back(t->elapsed_ms());
  return samples;
}

// The figures derived from the measured latency: throughput, achieved rates, the roofline
// floor and the efficiency against it.
void fill_figures(LayerResult& r, const CaseInputs& c, const Ceilings& ceilings) {
  const double seconds = r.latency_ms.mean * 1e-3;
  r.throughput_tok_per_sec = double(c.tokens) / seconds;
  r.flops = c.work.flops;
  r.bytes_min = c.work.bytes_min;
  r.tflops = c.work.flops / seconds / 1e12;
  r.gbps = c.work.bytes_min / seconds / 1e9;
  r.floor_ms = roofline_floor_ms(c.work, ceilings);
  r.efficiency = r.floor_ms / r.latency_ms.p50;
}

// One implementation on one case: record or not, verify, warm up, time, fill the result, and
// with a profiler write the run's trace.
LayerResult run_case(Backend& backend, const LayerRunOptions& opt, const LayerSpec& spec,
                     const LayerWeightStore& weights, const Ceilings& ceilings, const DeviceInfo& device,
                     PreparedImpl& p, const CaseInputs& c, ReferenceCache& references, Bf16Baseline* bf16) {
  MoeImpl& impl = *p.impl;
  PhaseScope run_phase(opt.profiler,
                       fmt::format("{} {} tokens={}", p.info->name, c.source->label, c.tokens), "run");
  LayerResult r = result_identity(opt, backend, device, p.info->name, c);

  PhaseScope prepare_phase(opt.profiler, "prepare");
  const CaseForward forward(backend, impl, c);
  r.launch = forward.launch();
  prepare_phase.end();

  if (opt.verify) verify_forward(backend, opt, spec, weights, impl, c, forward, references, bf16, r);
  warm_up(opt, c, forward);
  r.latency_ms = summarize(time_iterations(backend, opt, c, forward));
  r.counters = impl.counters();
  fill_figures(r, c, ceilings);
  r.peak_memory_bytes = weights.bytes() + int64_t(c.rotations) * c.set_bytes + p.workspace_bytes;
  run_phase.end();
  if (opt.profiler)
    opt.profiler->write_run({r.model, r.impl, r.scenario, c.tokens}, run_phase.span(), {p.setup_span, c.inputs_span});
  return r;
}

}  // namespace

std::vector<LayerCase> layer_cases(const LayerRunOptions& opt) {
  std::vector<LayerCase> cases;
  for (const ReplayCase& r : opt.replays) cases.push_back({r.label, Scenario::random, &r, r.num_tokens});
  if (!opt.replays.empty()) return cases;
  for (Scenario s : opt.scenarios)
    for (int64_t tokens : opt.num_tokens) cases.push_back({scenario_name(s), s, nullptr, tokens});
  return cases;
}

std::vector<float> case_logits(const LayerRunOptions& opt, const LayerCase& c) {
  if (c.replay) return *c.replay->logits;
  return scenario_logits(opt.model, c.scenario, c.num_tokens, opt.scenario_params, opt.seed);
}

void validate_layer_options(const LayerRunOptions& opt) {
  opt.model.validate(/*layer_only=*/true);
  if (opt.num_tokens.empty()) throw InputError("--num-tokens: give at least one token count");
  for (int64_t t : opt.num_tokens) {
    if (t <= 0) throw InputError(fmt::format("--num-tokens: token counts must be positive (got {})", t));
    check_layer_tokens(opt.model, t, opt.dtype);
  }
  if (opt.scenarios.empty() && opt.replays.empty()) throw InputError("--scenarios: give at least one scenario");
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
  check_scenario_params(opt.model, opt.scenarios, opt.scenario_params);
  if (opt.verify_tokens <= 0)
    throw InputError(fmt::format("--verify-tokens must be positive (got {})", opt.verify_tokens));
  if (opt.dtype != DType::bf16 && opt.dtype != DType::fp16 && opt.dtype != DType::fp8)
    throw InputError(fmt::format("--dtype {}: the layer benchmark runs bf16, fp16 or fp8", dtype_name(opt.dtype)));
}

int64_t layer_run_bytes(const LayerRunOptions& opt) {
  int64_t max_tokens = *std::max_element(opt.num_tokens.begin(), opt.num_tokens.end());
  int64_t set = io_set_bytes(opt.model, max_tokens, opt.dtype);
  // fp8: the memory model's count is of 128x128 block scales; channel and tensor scales are fewer.
  return size_add(weight_bytes(opt.model, opt.dtype), std::min<int64_t>(size_mul(8, set), std::max(set, kMaxRotatingBytes)));
}

LayerBenchmark run_layer_benchmark(Backend& backend, const LayerRunOptions& opt, const Ceilings& ceilings,
                                   const ProgressFn& progress) {
  validate_layer_options(opt);
  const DeviceInfo device = backend.device_info();
  const std::vector<const ImplInfo*> infos = select_impls(opt.impls, backend.kind());
  LayerSpec spec;
  spec.model = opt.model;
  spec.dtype = opt.dtype;
  spec.fp8_scaling = opt.fp8_scaling;
  spec.max_tokens = *std::max_element(opt.num_tokens.begin(), opt.num_tokens.end());
  spec.seed = opt.seed;
  LayerWeightStore weights(backend, spec);
  const std::vector<float> bias = score_bias_values(opt.model, opt.seed);

  // One implementation at a time: prepared, run on every case, released before the next, so
  // that what one keeps beside the shared weights (fused's interleaved copy of w13) never adds
  // to another's, and every implementation that fits alone is measured. One that fails at run
  // time (an OOM in its preparation, say) fails its own cases and the others still run.
  const std::vector<LayerCase> cases = layer_cases(opt);
  const int total = int(cases.size() * infos.size());
  int done = 0;
  struct Ordered {
    size_t index, impl;
    LayerResult result;
  };
  std::vector<Ordered> ordered;
  LayerBenchmark out;
  ReferenceCache references;
  std::unique_ptr<Bf16Baseline> bf16;
  if (opt.dtype == DType::fp8 && opt.verify) {
    bf16 = std::make_unique<Bf16Baseline>();
    bf16->spec = spec;
    bf16->spec.dtype = DType::bf16;
    bf16->weights = std::make_unique<LayerWeightStore>(backend, bf16->spec);
  }
  for (size_t i = 0; i < infos.size(); ++i) {
    std::optional<PreparedImpl> prepared;
    std::optional<RuntimeFailure> failed;
    for (size_t s = 0; s < cases.size(); ++s) {
      const LayerCase& lc = cases[s];
      if (progress)
        progress(done++, total, fmt::format("{} tokens={} impl={}", lc.label, lc.num_tokens, infos[i]->name));
      if (!failed) try {
          if (!prepared) prepared = prepare_impl(backend, opt, infos[i], spec, weights);
          const CaseInputs c = make_case_inputs(backend, opt, device, bias, cases, s);
          ordered.push_back(
              {s, i, run_case(backend, opt, spec, weights, ceilings, device, *prepared, c, references, bf16.get())});
          continue;
        } catch (const RuntimeFailure& e) {
          failed = e;
        }
      out.failures.push_back({infos[i]->name, lc.label, lc.num_tokens, failed->kind(), failed->what()});
    }
    prepared.reset();  // its workspace goes back before the next implementation is prepared
    backend.synchronize();
  }
  if (progress) progress(done, total, "done");
  // Presented as the runs of one scenario and token count side by side, in the order asked for.
  std::stable_sort(ordered.begin(), ordered.end(), [](const Ordered& a, const Ordered& b) {
    return std::tie(a.index, a.impl) < std::tie(b.index, b.impl);
  });
  for (Ordered& o : ordered) out.results.push_back(std::move(o.result));
  return out;
}

}  // namespace moebench
