#pragma once
// The layer benchmark runner every backend shares: for each implementation in turn it prepares
// it, and for each scenario x token count verifies one poisoned run against the fp64 reference,
// warms up, times iterations over rotating input buffers and fills a LayerResult; then releases
// it. An implementation that fails at run time fails its own cases, not the run. Each of those
// phases is an NVTX range (and a trace span when profiling).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "analysis/ceilings.hpp"
#include "bench/routing_replay.hpp"
#include "backend/backend.hpp"
#include "bench/layer_result.hpp"
#include "core/errors.hpp"
#include "core/fp8_scaling.hpp"
#include "core/model_config.hpp"
#include "profile/profiler.hpp"
#include "routing/scenarios.hpp"

namespace moebench {

struct LayerRunOptions {
  ModelConfig model;
  std::vector<int64_t> num_tokens;
  std::vector<Scenario> scenarios;
  std::vector<std::string> impls;  // names, or {"all"}
  // --routing-file: recorded routings replayed instead of the scenarios (bench/routing_replay.hpp);
  // num_tokens then holds their distinct token counts.
  std::vector<ReplayCase> replays;
  ScenarioParams scenario_params;  // the engineered scenarios' knobs (imbalance factor, Zipf exponent, hot experts)
  int warmup_iters = 1;
  int benchmark_iters = 10;
  DType dtype = DType::bf16;
  Fp8Scaling fp8_scaling = Fp8Scaling::block;  // with dtype fp8 (--fp8-scaling)
  uint64_t seed = 0;
  bool verify = true;
  int64_t verify_tokens = 64;  // tokens compared with the fp64 reference per run
  int ep_size = 1;
  int tp_size = 1;
  // Every phase is an NVTX range; with a profiler each run also writes a Chrome trace.
  Profiler* profiler = nullptr;
};

// Throws InputError for options that cannot run (checked before anything is allocated).
void validate_layer_options(const LayerRunOptions& options);

// Bytes the run holds on the backend at its peak, before implementation workspaces: weights,
// rotating inputs and outputs. Used by the pre-flight check.
int64_t layer_run_bytes(const LayerRunOptions& options);

// One case of a run: a scenario at a token count, or a replayed routing (its own token count).
// Labelled by scenario name or "replay:<name>"; listed scenario by scenario, then by token count.
struct LayerCase {
  std::string label;
  Scenario scenario = Scenario::random;  // unused for a replay
  const ReplayCase* replay = nullptr;
  int64_t num_tokens = 0;
};
std::vector<LayerCase> layer_cases(const LayerRunOptions& options);

// The router logits of a case [T][E]: the scenario's from the seed, or the replay's.
std::vector<float> case_logits(const LayerRunOptions& options, const LayerCase& c);

using ProgressFn = std::function<void(int done, int total, const std::string& what)>;

// A scenario x token count an implementation did not run: its preparation or a run failed at
// run time (an OOM, a CUDA error), or an earlier case of it did.
struct LayerCaseFailure {
  std::string impl;
  std::string scenario;  // the case's label: a scenario name, or replay:<name>
  int64_t num_tokens = 0;
  FailureKind kind = FailureKind::Crash;
  std::string message;
};

struct LayerBenchmark {
  std::vector<LayerResult> results;  // by scenario, then token count, then implementation, as asked
  std::vector<LayerCaseFailure> failures;
};

LayerBenchmark run_layer_benchmark(Backend& backend, const LayerRunOptions& options, const Ceilings& ceilings,
                                   const ProgressFn& progress);

}  // namespace moebench
