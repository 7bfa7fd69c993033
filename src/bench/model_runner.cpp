// The end-to-end model benchmark (model_runner.hpp), on one device or on one rank of several.
#include "bench/model_runner.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <limits>
#include <optional>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "analysis/memory_fit.hpp"
#include "analysis/parallel_layout.hpp"
#include "core/errors.hpp"
#include "core/synthetic.hpp"
#include "model/decoder.hpp"
#include "model/kv_cache.hpp"
#include "model/model_ops.hpp"
#include "model/model_weights.hpp"
#include "moe/moe_impl.hpp"
#include "routing/routing.hpp"

namespace moebench {

namespace {

constexpr uint64_t kPromptStream = 0x70726f6d7074ull;  // "prompt"

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Synthetic prompts [batch][len]: token ids uniform over the vocabulary, a pure function of the seed.
std::vector<int32_t> prompt_tokens(uint64_t seed, int64_t batch, int64_t len, int64_t vocab) {
  std::vector<int32_t> tokens(size_t(batch * len));
  for (size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = int32_t(splitmix64(splitmix64(seed ^ kPromptStream) + i) % uint64_t(vocab));
  return tokens;
}

int first_moe_layer(const DecoderConfig& d) { return d.model.first_k_dense_replace; }

// The MoE layers' implementation, as --impl names it for this backend and --tp-size.
const ImplInfo& moe_impl_info(const ModelRunOptions& o, BackendKind kind) {
  return *select_impls({o.moe_impl}, kind, o.tp_size).front();
}

// Everything the batch sizes of one run share: weights, the MoE implementation, the ops and the
// decoder's buffers, sized for the largest batch.
struct ModelSetup {
  Communicator* comm = nullptr;  // the ranks', or null on one device
  std::unique_ptr<ModelWeights> weights;
  std::unique_ptr<MoeImpl> moe;
  std::unique_ptr<ModelOps> ops;
  std::unique_ptr<Decoder> decoder;
  int64_t moe_workspace_bytes = 0;
};

// Counts the distinct routed experts of each MoE layer on one eager decode step, routing the
// step's router logits on the host by the rule every implementation follows (routing.hpp).
std::vector<int> count_active_experts(Backend& backend, const ModelRunOptions& o, Decoder& decoder, KvCache& cache,
                                      int64_t batch) {
  const ModelConfig& m = o.decoder.model;
  std::vector<int> active;
  decoder.on_router_logits = [&](int layer, const float* logits, int64_t rows) {
    std::vector<float> host(size_t(rows * m.num_experts));
    backend.copy_to_host(host.data(), logits, host.size() * sizeof(float));
    Routing r = route(m, host.data(), rows, score_bias_values(m, layer_seed(o.seed, layer)));
    active.push_back(int(std::set<int32_t>(r.expert_ids.begin(), r.expert_ids.end()).size()));
  };
  try {
    decoder.decode_step(cache, batch);
  } catch (...) {
    decoder.on_router_logits = nullptr;
    throw;
  }
  decoder.on_router_logits = nullptr;
  backend.synchronize();
  return active;
}

// The profiled segment of a batch size: a prefill, then up to kProfiledDecodeSteps decode steps
// launched as in the timed runs, one trace (moebench model --profile).
void profile_batch(Backend& backend, const ModelRunOptions& o, Decoder& decoder, KvCache& cache,
                   const DeviceBuffer& prompts, RecordedWork* graph, int64_t batch, int64_t steps) {
  PhaseScope run(o.profiler, fmt::format("profile batch {}", batch), "run");
  {
    PhaseScope prefill(o.profiler, "prefill");
    decoder.prefill(cache, prompts.as<int32_t>(), batch, o.input_len);
    backend.synchronize();
  }
  decoder.start_decode(batch, o.input_len);
  for (int64_t i = 0; i < std::min(steps, kProfiledDecodeSteps); ++i) {
    PhaseScope step(o.profiler, fmt::format("decode step {}", i + 1));
    if (graph)
      graph->replay();
    else
      decoder.decode_step(cache, batch);
    backend.synchronize();
  }
  run.end();
  o.profiler->write_run({o.decoder.model.name, o.moe_impl, "decode", batch}, run.span(), {});
}

// The decode step recorded as one CUDA graph where the backend and the MoE implementation allow
// it, after one eager step (kernels set their attributes and cuBLAS picks its algorithms on first
// use, outside the capture); null where the steps run eagerly. Every run then prefills and
// restarts the positions. Notes the capture's time and, on a GPU, the memory the graph holds.
std::unique_ptr<RecordedWork> record_decode_graph(Backend& backend, const ModelSetup& s, Decoder& decoder,
                                                  KvCache& cache, int64_t L, int64_t steps, BatchResult& br) {
  const int64_t B = br.batch_size;
  const bool gpu = backend.kind() == BackendKind::cuda;
  std::unique_ptr<RecordedWork> graph;
  // Over ranks the steps run eagerly: the collectives are not recorded.
  if (gpu && steps > 0 && !s.comm && (!s.moe || s.moe->recordable(B))) {
    decoder.start_decode(B, L);
    decoder.decode_step(cache, B);
    const int64_t free_before = backend.device_info().free_memory_bytes;
    const auto t0 = std::chrono::steady_clock::now();
    graph = backend.record([&] { decoder.decode_step(cache, B); });
    backend.synchronize();
    br.graph_capture_ms = graph ? ms_since(t0) : 0;
    if (graph && gpu) br.memory.graphs = std::max<int64_t>(0, free_before - backend.device_info().free_memory_bytes);
  }
  return graph;
}

// The timers of one run (prefill, the whole decode, each decode step), made once per batch size
// and reused by every run of it.
struct RunTimers {
  std::unique_ptr<IntervalTimer> prefill, decode;
  std::vector<std::unique_ptr<IntervalTimer>> steps;

  RunTimers(Backend& backend, int64_t decode_steps) : prefill(backend.make_timer()), decode(backend.make_timer()) {
    for (int64_t i = 0; i < decode_steps; ++i) steps.push_back(backend.make_timer());
  }
};

// One run of a batch: the prefill of the prompts, then the decode steps (graph replays where
// there is a graph), each timed.
ModelRunTimes time_one_run(Backend& backend, Decoder& decoder, KvCache& cache, const DeviceBuffer& prompts,
                           RecordedWork* graph, int64_t B, int64_t L, RunTimers& timers) {
  const int64_t steps = int64_t(timers.steps.size());
  ModelRunTimes t;
  timers.prefill->start();
  decoder.prefill(cache, prompts.as<int32_t>(), B, L);
  timers.prefill->stop();
  t.ttft_ms = timers.prefill->elapsed_ms();
  decoder.start_decode(B, L);
  timers.decode->start();
  for (int64_t i = 0; i < steps; ++i) {
    timers.steps[size_t(i)]->start();
    if (graph)
      graph->replay();
    else
      decoder.decode_step(cache, B);
    timers.steps[size_t(i)]->stop();
  }
  timers.decode->stop();
  backend.synchronize();
  t.decode_ms = steps > 0 ? timers.decode->elapsed_ms() : 0;
  for (auto& timer : timers.steps) t.step_ms.push_back(timer->elapsed_ms());
  return t;
}

// The memory the batch holds, by part, and in total as the device reports it.
void measure_memory(Backend& backend, const ModelSetup& s, const Decoder& decoder, const KvCache& cache,
                    ModelMemory& mem) {
  const bool gpu = backend.kind() == BackendKind::cuda;
  mem.weights = s.weights->bytes();
  mem.kv_cache = cache.bytes();
  mem.activations = decoder.activation_bytes() + s.moe_workspace_bytes;
  const DeviceInfo info = backend.device_info();
  mem.device_total = info.total_memory_bytes;
  mem.device_free = info.free_memory_bytes;
  if (gpu) {
    mem.measured_bytes = info.total_memory_bytes - info.free_memory_bytes;
    mem.measured_source = "cudaMemGetInfo: total - free";
  } else {
    mem.measured_bytes = backend.peak_allocated_bytes();
    mem.measured_source = "CPU backend: peak bytes allocated";
  }
}

void run_batch(Backend& backend, const ModelRunOptions& o, const ModelResult& result, ModelSetup& s,
               BatchResult& br, const ModelProgressFn& progress) {
  const DecoderConfig& d = o.decoder;
  const int64_t B = br.batch_size, L = o.input_len, steps = o.output_len - 1;
  Decoder& decoder = *s.decoder;

  auto t0 = std::chrono::steady_clock::now();
  KvCache cache(backend, d, s.weights->shard(), B, o.input_len + o.output_len);
  backend.synchronize();
  br.kv_alloc_ms = ms_since(t0);
  std::vector<int32_t> prompts_host = prompt_tokens(o.seed, B, L, d.model.vocab_size);
  DeviceBuffer prompts(backend, prompts_host.size() * sizeof(int32_t));
  backend.copy_to_device(prompts.get(), prompts_host.data(), prompts.bytes());

  std::unique_ptr<RecordedWork> graph = record_decode_graph(backend, s, decoder, cache, L, steps, br);
  br.decode_launch = graph ? "graph" : "eager";

  RunTimers timers(backend, steps);
  for (int w = 0; w < o.warmup_runs; ++w) {
    if (progress) progress(fmt::format("batch {}: warm-up run {}/{}", B, w + 1, o.warmup_runs));
    time_one_run(backend, decoder, cache, prompts, graph.get(), B, L, timers);
  }
  for (int r = 0; r < o.benchmark_runs; ++r) {
    if (progress) progress(fmt::format("batch {}: run {}/{}", B, r + 1, o.benchmark_runs));
    br.runs.push_back(time_one_run(backend, decoder, cache, prompts, graph.get(), B, L, timers));
  }
  br.metrics = model_metrics(br.runs, B, L, o.output_len);
  // The last run's last tokens: what the whole generation led to, compared across ranks and runs.
  br.last_tokens.resize(size_t(B));
  backend.copy_to_host(br.last_tokens.data(), decoder.tokens(), br.last_tokens.size() * sizeof(int32_t));

  // The cache holds input_len + output_len positions: one more step after the last run fits.
  if (d.model.moe_layer_count() > 0) br.active_experts = count_active_experts(backend, o, decoder, cache, B);
  br.floor_context = L + (steps + 1) / 2;
  br.floor_bytes = decode_step_bytes(d.model, d.dtype, B, br.floor_context, br.active_experts,
                                     ParallelLayout{o.tp_size, o.ep_size});
  br.tpot_floor_ms = bandwidth_floor_ms(br.floor_bytes.total(), result.ceilings.copy_gbps);

  measure_memory(backend, s, decoder, cache, br.memory);
  if (o.profiler && steps > 0) {
    if (progress) progress(fmt::format("batch {}: profiling a prefill and {} decode steps", B,
                                       std::min(steps, kProfiledDecodeSteps)));
    profile_batch(backend, o, decoder, cache, prompts, graph.get(), B, steps);
  }
}

// What a run reports before anything is measured: the model, the device, the settings and the
// planned batch sizes.
ModelResult describe_run(const Backend& backend, const ModelRunOptions& o, std::vector<BatchResult> planned) {
  const DecoderConfig& d = o.decoder;
  const ModelConfig& m = d.model;
  const DeviceInfo device = backend.device_info();
  ModelResult result;
  result.model = d.full_layers == m.num_layers ? m.name : fmt::format("{} (first {} layers)", m.name, m.num_layers);
  result.device = device.name;
  result.backend = backend_kind_name(backend.kind());
  result.dtype = dtype_name(d.dtype);
  result.moe_impl = m.moe_layer_count() > 0 ? o.moe_impl : "none (no MoE layers)";
  result.layers = m.num_layers;
  result.full_layers = d.full_layers;
  for (const std::string& note : {d.truncation_note, d.attention_note})
    if (!note.empty()) result.notes.push_back(note);
  result.input_len = o.input_len;
  result.output_len = o.output_len;
  result.prefill_chunk = o.prefill_chunk;
  result.warmup_runs = o.warmup_runs;
  result.benchmark_runs = o.benchmark_runs;
  result.seed = o.seed;
  result.tp_size = o.tp_size;
  result.ep_size = o.ep_size;
  result.batches = std::move(planned);
  return result;
}

// The one MoE implementation every MoE layer shares, prepared on the first MoE layer's experts
// for the longest step; what it allocated is its workspace.
void prepare_moe(Backend& backend, const ModelRunOptions& o, const DecoderLimits& limits, ModelSetup& s) {
  const DecoderConfig& d = o.decoder;
  // After the reset the peak is what is allocated now (the ceilings' buffers are gone).
  backend.reset_peak_allocated();
  const int64_t allocated = backend.peak_allocated_bytes();
  const ImplInfo& info = moe_impl_info(o, backend.kind());
  s.moe = info.make(backend);
  LayerSpec spec;
  spec.model = d.model;
  spec.dtype = d.dtype;
  spec.max_tokens = limits.max_step_rows();
  if (s.comm) {
    spec.parallel = {o.tp_size, o.ep_size, s.comm->rank(), s.comm};
    // A token slice: the largest rank's part of the longest step.
    if (info.rank_tokens == RankTokens::token_slice)
      spec.max_tokens = (spec.max_tokens + s.comm->size() - 1) / s.comm->size();
  }
  spec.seed = layer_seed(o.seed, first_moe_layer(d));
  spec.binds_other_layers = true;  // one implementation serves every MoE layer
  s.moe->prepare(spec, s.weights->layer(first_moe_layer(d)).experts->view());
  backend.synchronize();
  s.moe_workspace_bytes = backend.peak_allocated_bytes() - allocated;
}

// Attention sized for the largest batch that runs at the longest context, over the shard's heads.
AttentionDims max_attention_dims(const ModelConfig& m, const DecoderShard& shard, const DecoderLimits& limits) {
  AttentionDims dims;
  dims.batch = int(limits.max_batch);
  dims.num_heads = shard.heads;
  dims.num_kv_heads = shard.kv_heads;
  dims.head_dim = m.head_dim;
  dims.max_context = int(limits.max_context);
  dims.softmax_scale = 1.0f / std::sqrt(float(m.head_dim));
  return dims;
}

// Weights, the MoE implementation, the ops and the decoder for every batch size that runs,
// their preparation timed into `result`.
ModelSetup prepare_model(Backend& backend, const ModelRunOptions& o, ModelResult& result,
                         const ModelProgressFn& progress, Communicator* comm) {
  const DecoderConfig& d = o.decoder;
  int64_t max_batch = 0;
  for (const BatchResult& b : result.batches)
    if (b.status == BatchResult::Status::ok) max_batch = std::max(max_batch, b.batch_size);
  const DecoderLimits limits{max_batch, o.input_len, o.input_len + o.output_len, o.prefill_chunk};

  ModelSetup s;
  s.comm = comm;
  if (progress) progress("initialising weights");
  auto t0 = std::chrono::steady_clock::now();
  if (comm) {
    const ModelRank rank{decoder_shard(d, comm->size(), comm->rank()), MoeParallel{o.tp_size, o.ep_size, comm->rank()},
                         d.model.moe_layer_count() > 0 ? moe_impl_info(o, backend.kind()).holds : nullptr};
    s.weights = std::make_unique<ModelWeights>(backend, d, o.seed, rank);
  } else {
    s.weights = std::make_unique<ModelWeights>(backend, d, o.seed);
  }
  backend.synchronize();
  result.weight_init_ms = ms_since(t0);
  if (d.model.moe_layer_count() > 0) {
    if (progress) progress("preparing the MoE implementation " + o.moe_impl);
    t0 = std::chrono::steady_clock::now();
    prepare_moe(backend, o, limits, s);
    result.moe_prepare_ms = ms_since(t0);
  }
  s.ops = make_model_ops(backend, d.dtype, max_attention_dims(d.model, s.weights->shard(), limits));
  DecoderRanks ranks;
  ranks.comm = comm;
  ranks.moe_token_slice =
      comm && d.model.moe_layer_count() > 0 && moe_impl_info(o, backend.kind()).rank_tokens == RankTokens::token_slice;
  s.decoder = std::make_unique<Decoder>(backend, d, *s.weights, *s.ops, s.moe.get(), limits, ranks);
  return s;
}

}  // namespace

std::string BatchResult::failure_text() const {
  return status == Status::failed ? fmt::format("{}: {}", failure_kind_name(failure_kind), failure) : failure;
}

const char* BatchResult::status_name() const {
  return status == Status::ok ? "ok" : status == Status::refused ? "refused" : "failed";
}

bool ModelResult::any_failed() const {
  return std::any_of(batches.begin(), batches.end(),
                     [](const BatchResult& b) { return b.status == BatchResult::Status::failed; });
}

void validate_model_options(const ModelRunOptions& o, BackendKind backend) {
  const ModelConfig& m = o.decoder.model;
  if (o.batch_sizes.empty()) throw InputError("--batch-size: give at least one batch size");
  for (int64_t b : o.batch_sizes)
    if (b <= 0) throw InputError(fmt::format("--batch-size: batch sizes must be positive (got {})", b));
  if (o.input_len <= 0) throw InputError(fmt::format("--input-len must be positive (got {})", o.input_len));
  if (o.output_len <= 0)
    throw InputError(fmt::format("--output-len must be positive (got {}): the prefill yields the first token",
                                 o.output_len));
  if (o.warmup_runs < 0) throw InputError(fmt::format("--warmup-runs must be >= 0 (got {})", o.warmup_runs));
  if (o.benchmark_runs <= 0)
    throw InputError(fmt::format("--benchmark-runs must be positive (got {})", o.benchmark_runs));
  if (o.prefill_chunk <= 0)
    throw InputError(fmt::format("--chunked-prefill-size must be positive (got {})", o.prefill_chunk));
  // Each length alone first: their sum cannot wrap, and the message names the flag.
  for (const auto& [value, flag] : {std::pair{o.input_len, "--input-len"}, std::pair{o.output_len, "--output-len"}})
    if (value > m.max_position_embeddings)
      throw InputError(fmt::format("{} {} exceeds max_position_embeddings ({}) of {}: lower {}", flag, value,
                                   m.max_position_embeddings, m.name, flag));
  if (o.input_len + o.output_len > m.max_position_embeddings)
    throw InputError(fmt::format("--input-len + --output-len ({} + {} = {}) exceeds max_position_embeddings ({}) of "
                                 "{}: shorten the context to at most {} tokens",
                                 o.input_len, o.output_len, o.input_len + o.output_len, m.max_position_embeddings,
                                 m.name, m.max_position_embeddings));
  if (o.input_len + o.output_len > std::numeric_limits<int32_t>::max() / 2)
    throw InputError("--input-len + --output-len: positions must fit 32-bit integers");
  validate_layout(m, o.decoder.dtype, ParallelLayout{o.tp_size, o.ep_size});
  if (m.moe_layer_count() > 0) select_impls({o.moe_impl}, backend, o.tp_size);
  if (backend == BackendKind::cuda && m.sliding_layer_count() > 0)
    throw InputError(fmt::format("{}: sliding_window / layer_types: {} of {} layers attend over a sliding window of {} "
                                 "tokens, which the GPU attention kernels do not restrict yet; run it with --backend "
                                 "cpu",
                                 m.name, m.sliding_layer_count(), m.num_layers, m.sliding_window));
  if (backend == BackendKind::cuda && m.head_dim != 64 && m.head_dim != 128)
    throw InputError(fmt::format("{}: head_dim {}: the GPU attention kernels run head_dim 64 or 128", m.name,
                                 m.head_dim));
}

MemoryRequest model_memory_request(const ModelRunOptions& o, int64_t batch, bool gpu) {
  MemoryRequest r;
  r.model = o.decoder.model;
  r.layout = ParallelLayout{o.tp_size, o.ep_size};
  r.weight_dtype = o.decoder.dtype;
  r.kv_dtype = o.decoder.dtype;
  r.batch_size = batch;
  r.input_len = o.input_len;
  r.output_len = o.output_len;
  r.chunked_prefill_size = o.prefill_chunk;
  r.cuda_graph_max_bs = gpu ? batch : 0;  // one graph: the batch's decode step
  return r;
}

int64_t predicted_process_bytes(const MemoryBreakdown& breakdown, bool gpu) {
  return breakdown.total_bytes() - (gpu ? 0 : breakdown.bytes_of("cuda_context") + breakdown.bytes_of("nccl"));
}

std::vector<BatchResult> preflight(const ModelRunOptions& o, bool gpu, int64_t available_bytes,
                                   const std::string& where) {
  std::vector<BatchResult> out;
  std::optional<std::string> smallest_refusal;
  int64_t smallest_refused = 0;
  bool any_fits = false;
  for (int64_t batch : o.batch_sizes) {
    BatchResult br;
    br.batch_size = batch;
    br.memory.predicted = estimate_memory(model_memory_request(o, batch, gpu));
    br.memory.predicted_bytes = predicted_process_bytes(br.memory.predicted, gpu);
    // On the GPU the CUDA context already exists: it is not part of the free memory.
    const int64_t needed = br.memory.predicted_bytes - (gpu ? br.memory.predicted.bytes_of("cuda_context") : 0);
    if (needed > available_bytes) {
      br.status = BatchResult::Status::refused;
      br.failure = fmt::format("does not fit: {}{}", needed_vs_available(needed, available_bytes), where);
      if (!smallest_refusal || batch < smallest_refused) {
        smallest_refused = batch;
        smallest_refusal = br.failure;
      }
    } else {
      any_fits = true;
    }
    out.push_back(std::move(br));
  }
  if (!any_fits)
    throw InputError(fmt::format("{} at batch {}, input {}, output {} {}; use a smaller model, --num-layers, a "
                                 "shorter context or a smaller --batch-size",
                                 o.decoder.model.name, smallest_refused, o.input_len, o.output_len, *smallest_refusal));
  return out;
}

std::vector<BatchResult> plan_batches(Backend& backend, const ModelRunOptions& o) {
  const DeviceInfo device = backend.device_info();
  return preflight(o, backend.kind() == BackendKind::cuda, device.free_memory_bytes,
                   fmt::format(" on {} ({})", device.name, backend_kind_name(backend.kind())));
}

ModelResult run_model_benchmark(Backend& backend, const ModelRunOptions& o, std::vector<BatchResult> planned,
                                const ModelProgressFn& progress, Communicator* comm) {
  ModelResult result = describe_run(backend, o, std::move(planned));
  // Over ranks rank 0 measures for the run (its figures are the ones reported), as the layer
  // benchmark's rank 0 does, and CPU ranks do not contend for the node's bandwidth.
  if (!comm || comm->rank() == 0) {
    if (progress) progress("measuring copy bandwidth");
    const auto t0 = std::chrono::steady_clock::now();
    result.ceilings = measure_ceilings(backend);
    result.ceilings_ms = ms_since(t0);
  }

  ModelSetup s = prepare_model(backend, o, result, progress, comm);
  for (BatchResult& br : result.batches) {
    if (br.status != BatchResult::Status::ok) continue;
    try {
      run_batch(backend, o, result, s, br, progress);
    } catch (const RuntimeFailure& e) {
      // Over ranks the peers are inside collectives this rank left: the run fails as a whole.
      if (comm) throw;
      br.status = BatchResult::Status::failed;
      br.failure = e.what();
      br.failure_kind = e.kind();
      br.runs.clear();
      backend.synchronize();
    }
  }
  return result;
}

}  // namespace moebench
