#pragma once
// `moebench layer` as a job: what the user asked for, as given (LayerJob), and the whole run of
// it (run_layer_job): the checks of the input, the backend and its defaults, the refusal of a
// layer that does not fit, the results store, the ceilings, the benchmark, the table, the files
// and the records, and the exit code. The command line only fills a LayerJob; tests build one.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "bench/layer_runner.hpp"
#include "bench/layer_writers.hpp"
#include "bench/writers.hpp"
#include "core/model_options.hpp"
#include "dist/rank_env.hpp"
#include "profile/profile_options.hpp"
#include "results/record_options.hpp"

namespace moebench {

// The default --imbalance-factor: the busiest expert gets three times the average load.
constexpr double kDefaultImbalanceFactor = 3.0;

struct LayerJob {
  ModelOptions model;                 // none named: bench/layer_defaults.hpp's for the backend
  std::vector<int64_t> num_tokens;    // empty: the backend's default token counts
  std::vector<std::string> scenarios;  // empty: random, balanced, imbalanced (none with --routing-file)
  // --routing-file: recorded routing replayed instead of the scenarios (bench/routing_replay.hpp).
  std::string routing_file;
  std::vector<std::string> impls = {"all"};
  // None given: kDefaultImbalanceFactor, or the most the model's shape allows when that is less
  // (said in the run header); a value given is refused when the shape cannot take it.
  std::optional<double> imbalance_factor;
  double zipf_exponent = 1.0;  // zipf scenario: popularity (e+1)^-s
  int hot_experts = 0;         // hot-experts scenario: N hot experts; 0 means top_k
  double hot_share = 0.5;      // hot-experts scenario: their share of the token-expert assignments
  int ep_size = 1;
  int tp_size = 1;
  // Where the ranks run (bench/parallel_layer_job.hpp): one node unless these say otherwise.
  std::string dist_init_addr;
  int nnodes = 1;
  int node_rank = 0;
  // --dist-timeout (SGLang's flag): how long a rank waits for its peers, at the rendezvous and in
  // each collective. A peer that never arrives is bad input (exit 2, nothing recorded).
  double dist_timeout_s = kDefaultDistTimeout_s;
  int warmup_iters = 1;
  int benchmark_iters = 10;
  std::string dtype = "bf16";
  std::string fp8_scaling;       // --fp8-scaling, with --dtype fp8 only; empty: block
  std::string backend = "auto";  // auto, cuda or cpu
  uint64_t seed = 0;
  bool no_verify = false;
  int64_t verify_tokens = 64;
  // Result files: written when either is set (format "all", base ./benchmark_results by default).
  std::string output_format;
  std::string output_file;
  bool quiet = false;                 // no progress on stderr
  std::string export_routing_dir;     // empty: no routing export
  bool routed_only = false;           // leave the shared experts out
  RecordOptions record;
  ProfileOptions profile;
};

// The run `job` asks for on a backend of `backend` kind (cpu or cuda): the model resolved (the
// backend's default when none was named, without shared experts when routed_only), the token
// counts (the backend's default when none were given), the names parsed; then checked.
// Throws InputError naming the flag.
LayerRunOptions layer_run_options(const LayerJob& job, BackendKind backend);

// The base path of the result files: --output-file, or ./benchmark_results.
std::string layer_output_base(const LayerJob& job);
// The formats of the result files, every file they will write checked (InputError naming the
// flag); none when no file was asked for.
std::vector<const WriterEntry*> layer_checked_writers(const LayerJob& job);
// What the table, the Markdown and the records' context say of the whole run.
LayerReportContext layer_report_context(const LayerRunOptions& run, const Backend& backend, const std::string& device,
                                        const Ceilings& ceilings, const std::string& command_line);

// The exit code of a finished run: 1, with the count on stderr, when a verified result failed
// its verification; 0 otherwise.
int layer_exit_code(const std::vector<LayerResult>& results);

// Runs `job` start to end, `command_line` recorded with its results. Returns the exit code: 0,
// or 1 when a result failed verification. Throws InputError for bad input before any work (and
// before a results store is created), RuntimeFailure when the run itself failed (its planned
// rows recorded as failures first).
int run_layer_job(const LayerJob& job, const std::string& command_line);

}  // namespace moebench
