// The layer benchmark on one rank, and rank 0's merge of every rank's figures
// (parallel_layer_runner.hpp).
#include "bench/parallel_layer_runner.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "analysis/roofline.hpp"
#include "bench/verify.hpp"
#include "moe/layer_weights.hpp"
#include "moe/moe_impl.hpp"
#include "routing/routing.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

// Two input sets, so that consecutive iterations do not read the same activations.
constexpr int kRotations = 2;

double counter(const MoeImpl& impl, const std::string& name) {
  for (const auto& [key, value] : impl.counters())
    if (key == name) return value;
  return 0;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / double(v.size());
}

// The rank's tokens for one implementation: [begin, end) of the global batch.
std::pair<int64_t, int64_t> rank_tokens(const ImplInfo& info, int64_t tokens, const Communicator& comm) {
  if (info.rank_tokens == RankTokens::token_slice) return even_part(tokens, comm.rank(), comm.size());
  return {0, tokens};
}

// The most tokens rank_tokens gives any rank.
int64_t largest_rank_tokens(const ImplInfo& info, int64_t tokens, const Communicator& comm) {
  if (info.rank_tokens == RankTokens::token_slice) return largest_part(tokens, comm.size());
  return tokens;
}

// The inputs of one scenario x token count on this rank: the global logits (for the check) and
// the rank's rows of the hidden states, on the backend and on the host.
struct RankCase {
  const LayerCase* source = nullptr;
  int64_t tokens = 0;
  std::vector<float> logits;  // [tokens][E], the whole batch
};

// The routing of the case labelled `label` at `tokens`: a replay's recording, else its scenario's.
Routing case_routing(const LayerRunOptions& opt, const std::string& label, int64_t tokens,
                     const std::vector<float>& bias) {
  for (const LayerCase& c : layer_cases(opt))
    if (c.label == label && c.num_tokens == tokens) {
      if (c.replay) return c.replay->recorded->routing;
      const std::vector<float> logits = case_logits(opt, c);
      return route(opt.model, logits.data(), tokens, bias);
    }
  throw std::logic_error("merge_rank_results(): a case the run does not hold: " + label);
}

// One implementation on one case, on this rank.
json run_rank_case(Backend& backend, Communicator& comm, const LayerRunOptions& opt, const LayerSpec& verify_spec,
                   Backend& verify_backend, const LayerWeightStore& verify_weights, const ImplInfo& info,
                   MoeImpl& impl, const RankCase& c) {
  const ModelConfig& m = opt.model;
  const int64_t H = m.hidden_size, E = m.num_experts;
  const auto [begin, end] = rank_tokens(info, c.tokens, comm);
  const int64_t n = end - begin;
  const size_t act_bytes = size_t(n * H) * sizeof(uint16_t);

  std::vector<DeviceBuffer> x, logits;
  for (int r = 0; r < kRotations; ++r) {
    x.emplace_back(backend, act_bytes);
    if (n > 0)
      backend.fill_synthetic(x.back().get(), opt.dtype, size_t(n * H), opt.seed, hidden_states_stream(r),
                             uint64_t(begin * H), hidden_states_scale());
    logits.emplace_back(backend, size_t(n * E) * sizeof(float));
    backend.copy_to_device(logits.back().get(), c.logits.data() + size_t(begin * E), size_t(n * E) * sizeof(float));
  }
  PhaseScope run_phase(opt.profiler, fmt::format("{} {} tokens={}", info.name, c.source->label, c.tokens),
                       "run");
  DeviceBuffer out(backend, act_bytes);
  auto forward = [&](int rotation) {
    LayerArgs args;
    args.x = x[size_t(rotation)].get();
    args.logits = logits[size_t(rotation)].as<float>();
    args.out = out.get();
    args.num_tokens = n;
    args.batch_tokens = c.tokens;
    impl.forward(args);
  };

  json rank = {{"rank", comm.rank()}, {"tokens", n}};
  // The check: this rank's slice of the output, poisoned first, against the fp64 reference.
  if (opt.verify) {
    PhaseScope verify_phase(opt.profiler, "verify");
    backend.fill_bytes(out.get(), 0xFF, act_bytes);
    forward(0);
    backend.synchronize();
    const auto [vb, ve] = even_part(c.tokens, comm.rank(), comm.size());
    const int64_t vn = ve - vb;
    std::vector<uint16_t> out_host(size_t(n * H)), x_host(size_t(n * H));
    backend.copy_to_host(out_host.data(), out.get(), act_bytes);
    backend.copy_to_host(x_host.data(), x[0].get(), act_bytes);
    VerifyResult v;
    v.passed = true;  // a rank with no tokens of its own has nothing to check
    const ReplayCase* replay = c.source->replay;
    // A replay is checked against its recorded expert ids and weights, not re-routed.
    if (vn > 0 && replay)
      v = check_against_reference(
          make_replayed_reference(verify_backend, verify_spec, verify_weights.view(),
                                  x_host.data() + size_t((vb - begin) * H),
                                  replay->recorded->routing.expert_ids.data() + size_t(vb * m.top_k),
                                  replay->recorded->routing.weights.data() + size_t(vb * m.top_k), vn,
                                  opt.verify_tokens),
          out_host.data() + size_t((vb - begin) * H));
    else if (vn > 0)
      v = verify_layer_output(verify_backend, verify_spec, verify_weights.view(),
                              x_host.data() + size_t((vb - begin) * H), c.logits.data() + size_t(vb * E), vn,
                              out_host.data() + size_t((vb - begin) * H), opt.verify_tokens);
    rank["verify"] = {{"passed", v.passed},
                      {"rel_error", v.rel_error},
                      {"tokens", v.tokens_checked},
                      {"unwritten_outputs", v.unwritten}};
  }
  {
    PhaseScope warmup_phase(opt.profiler, "warmup");
    for (int w = 0; w < opt.warmup_iters; ++w) forward(w % kRotations);
  }

  std::vector<double> latency, dispatch, expert, combine;
  for (int it = 0; it < opt.benchmark_iters; ++it) {
    comm.barrier();
    PhaseScope iteration_phase(opt.profiler, fmt::format("iteration {}", it));
    const std::unique_ptr<IntervalTimer> timer = backend.make_timer();
    timer->start();
    forward((opt.warmup_iters + it) % kRotations);
    timer->stop();
    backend.synchronize();
    latency.push_back(timer->elapsed_ms());
    dispatch.push_back(counter(impl, "dispatch_ms"));
    expert.push_back(counter(impl, "expert_ms"));
    combine.push_back(counter(impl, "combine_ms"));
  }
  rank["latency_ms"] = latency;
  rank["dispatch_ms"] = mean(dispatch);
  rank["expert_ms"] = mean(expert);
  rank["combine_ms"] = mean(combine);
  rank["sent_bytes"] = counter(impl, "sent_bytes");
  rank["received_bytes"] = counter(impl, "received_bytes");
  rank["expert_rows"] = counter(impl, "expert_rows");
  rank["io_bytes"] = double(kRotations * (act_bytes + size_t(n * E) * sizeof(float)) + act_bytes);
  run_phase.end();
  if (opt.profiler)
    opt.profiler->write_run({m.name, info.name, c.source->label, c.tokens}, run_phase.span(), {});
  return rank;
}

// The collective an implementation's exchanges are: all-to-all where each rank takes a slice of
// the batch (dispatch and combine), all-reduce where each takes it whole; none on one device.
std::optional<Collective> exchange_collective(const std::string& impl, BackendKind backend) {
  for (const ImplInfo& info : all_impls())
    if (info.name == impl && info.backend == backend) {
      if (info.rank_tokens == RankTokens::token_slice) return Collective::all_to_all;
      if (info.rank_tokens == RankTokens::whole_batch) return Collective::all_reduce;
    }
  return std::nullopt;
}

double number(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : NAN;
}

}  // namespace

std::string run_rank_layer_benchmark(Backend& backend, Communicator& comm, const LayerRunOptions& opt,
                                     const ProgressFn& progress) {
  const ModelConfig& m = opt.model;
  const std::vector<const ImplInfo*> infos = select_impls(opt.impls, backend.kind(), comm.size());
  const int64_t max_tokens = *std::max_element(opt.num_tokens.begin(), opt.num_tokens.end());

  LayerSpec spec;
  spec.model = m;
  spec.dtype = opt.dtype;
  spec.seed = opt.seed;
  spec.max_tokens = max_tokens;
  spec.parallel = {opt.tp_size, opt.ep_size, comm.rank(), &comm};
  LayerWeightStore weights(backend, spec);
  // The check reads the full weights on the CPU: the layer's own where it runs there.
  std::unique_ptr<Backend> cpu = backend.kind() == BackendKind::cpu ? nullptr : make_backend(BackendKind::cpu);
  Backend& verify_backend = cpu ? *cpu : backend;
  std::unique_ptr<LayerWeightStore> cpu_weights = cpu ? std::make_unique<LayerWeightStore>(*cpu, spec) : nullptr;
  const LayerWeightStore& verify_weights = cpu_weights ? *cpu_weights : weights;

  std::vector<std::unique_ptr<MoeImpl>> impls;
  std::vector<double> workspace;
  for (const ImplInfo* info : infos) {
    LayerSpec s = spec;
    // Prepared alike on every rank, for the most tokens any rank gets: an implementation whose
    // ranks must agree on their buffers' sizes (fused-ep's symmetric windows) derives them from it.
    s.max_tokens = std::max<int64_t>(1, largest_rank_tokens(*info, max_tokens, comm));
    backend.reset_peak_allocated();
    const int64_t before = backend.peak_allocated_bytes();
    impls.push_back(info->make(backend));
    impls.back()->prepare(s, weights.view());
    backend.synchronize();
    workspace.push_back(double(backend.peak_allocated_bytes() - before));
  }

  const std::vector<float> bias = score_bias_values(m, opt.seed);
  const std::vector<LayerCase> layer_case_list = layer_cases(opt);
  const int total = int(layer_case_list.size() * impls.size());
  int done = 0;
  json cases = json::array();
  for (const LayerCase& source : layer_case_list) {
    const int64_t tokens = source.num_tokens;
    RankCase c{&source, tokens, case_logits(opt, source)};
    for (size_t i = 0; i < impls.size(); ++i) {
      if (progress)
        progress(done, total, fmt::format("{} tokens={} impl={}", source.label, tokens, infos[i]->name));
      json rank = run_rank_case(backend, comm, opt, spec, verify_backend, verify_weights, *infos[i], *impls[i], c);
      rank["peak_memory_bytes"] = double(weights.bytes()) + rank["io_bytes"].get<double>() + workspace[i];
      rank.erase("io_bytes");
      cases.push_back({{"impl", infos[i]->name}, {"scenario", source.label}, {"num_tokens", tokens},
                       {"rank", rank}});
      ++done;
    }
  }
  if (progress) progress(done, total, "done");
  return cases.dump();
}

std::vector<ParallelLayerRow> merge_rank_results(const std::vector<std::string>& blobs, const LayerRunOptions& opt,
                                                 const Backend& backend, const Ceilings& ceilings,
                                                 const ExchangeCeilings& exchange) {
  std::vector<json> ranks;
  for (const std::string& blob : blobs) ranks.push_back(json::parse(blob));
  const ModelConfig& m = opt.model;
  const std::vector<float> bias = score_bias_values(m, opt.seed);
  const DeviceInfo device = backend.device_info();
  std::vector<ParallelLayerRow> rows;
  for (size_t i = 0; i < ranks.front().size(); ++i) {
    const json& first = ranks.front()[i];
    ParallelLayerRow row;
    LayerResult& r = row.result;
    r.model = m.name;
    r.impl = first["impl"].get<std::string>();
    r.scenario = first["scenario"].get<std::string>();
    r.backend = backend_kind_name(backend.kind());
    r.device = device.name;
    r.dtype = dtype_name(opt.dtype);
    r.num_tokens = first["num_tokens"].get<int64_t>();
    r.ep_size = opt.ep_size;
    r.tp_size = opt.tp_size;
    r.num_experts = m.num_experts;
    r.top_k = m.top_k;
    r.hidden_size = m.hidden_size;
    r.intermediate_size = m.moe_intermediate_size;
    r.num_shared_experts = m.num_shared_experts;
    r.launch = "eager";
    r.load = load_stats(case_routing(opt, r.scenario, r.num_tokens, bias));

    // The slowest rank per iteration, per phase; the whole run's check.
    std::vector<double> latency(size_t(opt.benchmark_iters), 0.0);
    double dispatch = 0, expert = 0, combine = 0, sent = 0, received = 0, peak = 0, gbps = INFINITY;
    double rows_max = 0, rows_sum = 0, comm_ms_max = 0;
    bool verified = opt.verify, passed = true;
    int64_t checked = 0, unwritten = 0;
    double error = 0;
    for (const json& rank_cases : ranks) {
      const json& rk = rank_cases[i]["rank"];
      row.ranks.push_back(rk);
      const std::vector<double> samples = rk["latency_ms"].get<std::vector<double>>();
      for (size_t it = 0; it < latency.size() && it < samples.size(); ++it)
        latency[it] = std::max(latency[it], samples[it]);
      dispatch = std::max(dispatch, number(rk, "dispatch_ms"));
      expert = std::max(expert, number(rk, "expert_ms"));
      combine = std::max(combine, number(rk, "combine_ms"));
      sent = std::max(sent, number(rk, "sent_bytes"));
      received = std::max(received, number(rk, "received_bytes"));
      peak = std::max(peak, number(rk, "peak_memory_bytes"));
      const double comm_ms = number(rk, "dispatch_ms") + number(rk, "combine_ms");
      const double moved = number(rk, "sent_bytes") + number(rk, "received_bytes");
      if (moved > 0 && comm_ms > 0) gbps = std::min(gbps, moved / (comm_ms * 1e-3) / 1e9);
      comm_ms_max = std::max(comm_ms_max, comm_ms);
      rows_max = std::max(rows_max, number(rk, "expert_rows"));
      rows_sum += number(rk, "expert_rows");
      if (verified) {
        const json& v = rk["verify"];
        passed = passed && v["passed"].get<bool>();
        if (v["rel_error"].is_number()) error = std::max(error, v["rel_error"].get<double>());
        else error = NAN;
        checked += v["tokens"].get<int64_t>();
        unwritten += v["unwritten_outputs"].get<int64_t>();
      }
    }
    r.latency_ms = summarize(latency);
    if (verified) {
      r.verified = true;
      r.verify_passed = passed && checked > 0;
      r.verify_error = error;
      r.verify_tokens = checked;
      r.unwritten_outputs = unwritten;
    }
    const LayerWork work = layer_work(m, r.num_tokens, opt.dtype, r.load.active_experts);
    const double seconds = r.latency_ms.mean * 1e-3;
    r.throughput_tok_per_sec = double(r.num_tokens) / seconds;
    r.flops = work.flops;
    r.bytes_min = work.bytes_min;
    r.tflops = work.flops / seconds / 1e12;
    r.gbps = work.bytes_min / seconds / 1e9;
    r.floor_ms = roofline_floor_ms(work, ceilings);
    r.efficiency = r.floor_ms / r.latency_ms.p50;
    r.peak_memory_bytes = int64_t(peak);
    const double rows_mean = rows_sum / double(ranks.size());
    r.counters = {{"dispatch_ms", dispatch},
                  {"expert_ms", expert},
                  {"combine_ms", combine},
                  {"sent_bytes", sent},
                  {"received_bytes", received},
                  {"comm_gbps", std::isfinite(gbps) ? gbps : NAN},
                  {"rank_rows_max", rows_max},
                  {"rank_rows_mean", rows_mean},
                  {"rank_imbalance", rows_mean > 0 ? rows_max / rows_mean : NAN}};
    if (const std::optional<Collective> c = exchange_collective(r.impl, backend.kind())) {
      const BusBandwidth& ceiling = exchange.of(*c);
      const double busbw = comm_ms_max > 0 ? sent / (comm_ms_max * 1e-3) / 1e9 : NAN;
      r.counters.emplace_back("comm_busbw_gbps", busbw);
      r.counters.emplace_back(*c == Collective::all_to_all ? "alltoall_busbw_gbps" : "allreduce_busbw_gbps",
                              ceiling.busbw_gbps);
      r.counters.emplace_back("comm_busbw_fraction", ceiling.busbw_gbps > 0 ? busbw / ceiling.busbw_gbps : NAN);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace moebench
