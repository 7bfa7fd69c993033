#pragma once
// The end-to-end benchmark of `moebench model`: pre-flight against the memory model, then for
// each batch size that fits a KV cache, the decode step recorded as a CUDA graph where the
// backend and the MoE implementation allow it, warm-up runs and timed runs (prefill of the
// batch, then output_len - 1 decode steps), one counted decode step for the TPOT floor, and
// the memory layout measured beside the prediction.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "analysis/memory_model.hpp"
#include "backend/backend.hpp"
#include "bench/model_result.hpp"
#include "dist/communicator.hpp"
#include "model/decoder_config.hpp"
#include "profile/profiler.hpp"

namespace moebench {

struct ModelRunOptions {
  DecoderConfig decoder;
  std::vector<int64_t> batch_sizes;
  int64_t input_len = 0;
  int64_t output_len = 0;
  int warmup_runs = 1;
  int benchmark_runs = 3;
  std::string moe_impl;  // a registry name for the backend
  int64_t prefill_chunk = 8192;
  int tp_size = 1;
  int ep_size = 1;
  uint64_t seed = 0;
  // With a profiler, each batch size ends with one more prefill and kProfiledDecodeSteps decode
  // steps (graph replays where the run has a graph) recorded as a Chrome trace.
  Profiler* profiler = nullptr;
};

inline constexpr int64_t kProfiledDecodeSteps = 4;

// Throws InputError naming the flag: no batch sizes or batch 0, input or output length below 1,
// a context longer than max_position_embeddings, KV or attention heads (or a dense intermediate
// size) a --tp-size cannot split or experts an --ep-size cannot split, runs below 0 / 1, an
// unknown --moe-impl or one that runs on one device only with --tp-size above 1.
void validate_model_options(const ModelRunOptions& options, BackendKind backend);

// The memory model's request for one batch size of the run: one rank's (GPU's) part under the
// run's --tp-size / --ep-size layout.
MemoryRequest model_memory_request(const ModelRunOptions& options, int64_t batch, bool gpu);
// The bytes the memory model predicts this process holds for `batch`: everything on a GPU, all
// but the CUDA context and NCCL's buffers on the CPU (CPU ranks' Gloo buffers are not the
// backend's).
int64_t predicted_process_bytes(const MemoryBreakdown& breakdown, bool gpu);

// Pre-flight of every batch size against `available_bytes` (free memory before the run): the
// batch sizes that do not fit become refused results, with the numbers. Throws InputError "...
// does not fit: needed X GiB vs available Y GiB ..." when none fits, before anything is allocated.
std::vector<BatchResult> preflight(const ModelRunOptions& options, bool gpu, int64_t available_bytes,
                                   const std::string& where);

// preflight() against the backend's free memory, before anything of the run is allocated: the
// caller learns that nothing fits (InputError) before it opens a results store.
std::vector<BatchResult> plan_batches(Backend& backend, const ModelRunOptions& options);

using ModelProgressFn = std::function<void(const std::string& what)>;

// Runs the batch sizes of `planned` (plan_batches()) that were not refused. Runtime failures of
// one batch size (OOM, a CUDA error) are kept in its result and the next one runs; a failure
// before the first batch (ceilings, weights, the MoE implementation) is thrown.
//
// With `comm` this is one rank of a tensor-parallel run of comm->size() == tp_size ranks
// (bench/parallel_model_job.hpp): it holds its shard of the weights (model/model_weights.hpp),
// runs the decoder's collectives (model/decoder.hpp) and the MoE implementation's, times its own
// runs, and a runtime failure of any batch size fails the whole run (thrown), since the peers
// are waiting in collectives for this rank.
ModelResult run_model_benchmark(Backend& backend, const ModelRunOptions& options, std::vector<BatchResult> planned,
                                const ModelProgressFn& progress, Communicator* comm = nullptr);

}  // namespace moebench
