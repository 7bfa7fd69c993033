#pragma once
// `moebench model` as a job: what the user asked for, as given (ModelJob), and the whole run of
// it (run_model_job): the checks of the input, the backend's defaults, the refusal of a run of
// which no batch size fits, the results store, the profiler, the benchmark, the report, the
// files and the records, and the exit code. The command line only fills a ModelJob; tests build
// one.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "bench/model_runner.hpp"
#include "bench/writers.hpp"
#include "core/defaults.hpp"
#include "core/model_options.hpp"
#include "dist/communicator.hpp"
#include "dist/rank_env.hpp"
#include "profile/profile_options.hpp"
#include "results/record_options.hpp"

namespace moebench {

// The embedded default: a real model on a GPU at sizes that finish in about a minute, and the
// tiny preset on the CPU, where the whole default runs in seconds.
inline constexpr const char* kModelGpuDefaultModel = "qwen3-30b-a3b";
inline constexpr const char* kModelCpuDefaultModel = "tiny";
inline const std::vector<int64_t> kModelGpuDefaultBatches = {1, 8};
inline const std::vector<int64_t> kModelCpuDefaultBatches = {1, 2};
inline constexpr int64_t kModelGpuDefaultInput = kDefaultInputLen, kModelGpuDefaultOutput = kDefaultOutputLen;
inline constexpr int64_t kModelCpuDefaultInput = 32, kModelCpuDefaultOutput = 8;

struct ModelJob {
  ModelOptions model;                   // none named: the backend's default above
  std::vector<int64_t> batch_sizes;     // empty: the backend's default
  // Prompt and generated lengths, crossed with each other and the batch sizes as SGLang's
  // bench_one_batch crosses them: one run per (input, output) pair. Empty: the backend's default.
  std::vector<int64_t> input_lens;
  std::vector<int64_t> output_lens;
  int warmup_runs = 1;
  int benchmark_runs = 3;
  std::string dtype = "bf16";
  std::optional<int> num_layers;        // unset: the whole stack
  std::string moe_impl;                 // empty: tp over several ranks, else auto on the GPU, reference on the CPU
  int tp_size = 1;                      // ranks in all (bench/parallel_model_job.hpp when above 1)
  int ep_size = 1;
  std::string dist_init_addr;           // rank 0's rendezvous HOST:PORT, for --nnodes above 1
  int nnodes = 1;
  int node_rank = 0;
  double dist_timeout_s = kDefaultDistTimeout_s;  // --dist-timeout: how long a rank waits for its peers
  int64_t chunked_prefill_size = kDefaultChunkedPrefillSize;
  std::string backend = "auto";         // auto, cuda or cpu
  uint64_t seed = 0;
  // Result files: written when either is set (format "all", base ./model_results by default).
  std::string output_format;
  std::string output_file;
  bool quiet = false;                   // no progress on stderr
  ProfileOptions profile;
  RecordOptions record;
};

// The runs `job` asks for on a backend of `backend` kind (cpu or cuda), one per input x output
// length in the order given: the decoder resolved (the backend's default model when none was
// named), the batch sizes, lengths and MoE implementation defaulted for the backend; each
// checked. Throws InputError naming the flag.
std::vector<ModelRunOptions> model_run_options(const ModelJob& job, BackendKind backend);

// The exit code of finished runs, by the rule every benchmark command follows: 1 when any
// requested configuration did not run to a result (a batch size the pre-flight refused, or one
// that failed at run time), said on stderr; 0 otherwise.
int model_exit_code(const std::vector<ModelResult>& results);

// Where the runs of a job take place: on one device, or on one rank of a run over ranks.
struct ModelPlacement {
  Communicator* comm = nullptr;  // the ranks' (bench/parallel_model_job.hpp), or null on one device
  int64_t available_bytes = 0;   // what the pre-flight may plan for (per rank: the least of any rank)
  std::string where;             // " on DEVICE (backend)", said in a refusal
};

// The base path and the checked formats of the result files; none when no file was asked for.
std::string model_output_base(const ModelJob& job);
std::vector<const WriterEntry*> model_checked_writers(const ModelJob& job);

// What run_model_job does once the backend is made: the pre-flight of every length pair
// against placement.available_bytes (InputError when none fits), the store, the profiler, the
// benchmark, the report, the files, the records and the exit code. Over ranks (placement.comm)
// every rank runs this with the same runs and plans; each rank's figures go to rank 0
// (bench/model_ranks.hpp), which alone prints, writes and records; the others return 0; a
// runtime failure is thrown for the run's job to record.
int run_model_benchmarks(const ModelJob& job, Backend& backend, std::vector<ModelRunOptions> runs,
                         const std::vector<const WriterEntry*>& writers, const std::string& command_line,
                         const ModelPlacement& placement);

// Runs `job` start to end, `command_line` recorded with its results (over ranks:
// run_parallel_model_job). Returns the exit code: 0,
// or 1 when a batch size failed at run time. Throws InputError for bad input before any work
// (and before a results store is created, also when no batch size fits), RuntimeFailure when
// the run itself failed (its planned batch sizes recorded as failures first).
int run_model_job(const ModelJob& job, const std::string& command_line);

}  // namespace moebench
