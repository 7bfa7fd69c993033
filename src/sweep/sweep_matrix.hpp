#pragma once
// A sweep's config matrix: blocks of axes (models x TP x EP x implementation x token counts or
// batch sizes ...), each block the cross product of its lists, from a JSON or YAML file or from
// flags. Every point is one child run of `moebench layer` or `moebench model`.
//
// File format (JSON or YAML; a document without "runs" is one block):
//   timeout_s: 600                      # per config, seconds (a block may set its own)
//   runs:
//     - command: layer                  # layer (default) or model
//       models: [qwen3-30b-a3b]         # presets ...
//       model_paths: [dir/config.json]  # ... and/or Hugging Face configs ...
//       manual:                         # ... and/or --manual-config shapes
//         - {num_experts: 8, num_experts_per_tok: 2, hidden_size: 1024, intermediate_size: 4096}
//       tp_size: [1, 8]
//       ep_size: [1, 2]
//       impl: [all]                     # all = every implementation of the backend
//       dtype: [bf16]
//       num_tokens: [64, 512]           # layer only
//       scenarios: [random]             # layer only
//       batch_size: [1]                 # model only, with input_len and output_len
//       num_layers: [4]                 # model only: the first N layers (default: all)
//       warmup_iters: 1                 # or warmup_runs / benchmark_runs (the same settings)
//       benchmark_iters: 10
//       env: {NAME: value}              # extra environment of the block's children
//       args: ["--imbalance-factor", "4"]   # extra flags of the block's children
// A scalar where a list is expected is a list of one.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/backend.hpp"
#include "core/defaults.hpp"

namespace moebench {

struct ManualShape {
  int num_experts = 0;
  int top_k = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
};

struct SweepBlock {
  std::string command = "layer";
  std::vector<std::string> models;
  std::vector<std::string> model_paths;
  std::vector<ManualShape> manual;
  std::vector<int> tp_sizes = {1};
  std::vector<int> ep_sizes = {1};
  std::vector<std::string> impls = {"all"};
  std::vector<std::string> dtypes = {"bf16"};
  std::vector<int64_t> num_tokens;  // layer; empty: the command's default
  std::vector<std::string> scenarios = {"random"};
  std::vector<int64_t> batch_sizes = {1};  // model
  std::vector<int64_t> input_lens = {kDefaultInputLen};
  std::vector<int64_t> output_lens = {kDefaultOutputLen};
  std::vector<int> num_layers;  // model; empty: the whole model
  std::optional<int> warmup;     // warmup_iters (alias warmup_runs)
  std::optional<int> benchmark;  // benchmark_iters (alias benchmark_runs)
  std::optional<double> timeout_s;
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> args;
};

struct SweepMatrix {
  std::string source;  // the file, or "flags"
  double timeout_s = 600;
  std::vector<SweepBlock> blocks;
};

// One config of the matrix: one child run.
struct SweepPoint {
  std::string command;
  std::string model;                    // as the run stores it
  std::string config;                   // its key's config half (results/config_key.hpp)
  nlohmann::ordered_json params;        // as the run records them (for a failure recorded for it)
  std::vector<std::string> args;        // after the binary: "layer --model ... --results-db ..."
  std::vector<std::pair<std::string, std::string>> env;
  double timeout_s = 600;
};

// Throws InputError naming the file and the entry for a file that cannot be read or parsed,
// an unknown key, a wrong type, or a value out of range.
SweepMatrix load_sweep_matrix(const std::string& path);

// Checks the values of a matrix (from a file or flags): positive sizes and counts, known
// commands, at least one model per block. Throws InputError naming the entry.
void validate_sweep_matrix(const SweepMatrix& matrix);

// Every point of the matrix in order (blocks, then models, TP, EP, implementation, dtype,
// tokens or layers/batch/input/output, scenario). `backend` is the resolved backend (cpu or cuda):
// "all" becomes its implementations (in a layer cell of several ranks, its parallel ones) and
// unknown names are bad input; children get --backend and --results-db so they run and record
// where the sweep does. Loads each --model / --model-path config to name it as the run will
// (InputError if it cannot).
std::vector<SweepPoint> expand_sweep_matrix(const SweepMatrix& matrix, BackendKind backend,
                                            const std::string& results_db);

// The shell line that reruns one config as the sweep runs it, its environment included:
// "env NAME=value moebench layer --model ...", words quoted where a shell needs it.
std::string reproducible_command(const SweepPoint& point);

}  // namespace moebench
