#pragma once
// What one `moebench model` run measured: the start-up, and per batch size the raw run times,
// the figures of seeds 000 and 001, the TPOT floor and the memory layout beside the memory
// model's prediction. Every writer (terminal, Markdown, JSON) reads this record.
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/ceilings.hpp"
#include "analysis/decode_floor.hpp"
#include "analysis/memory_model.hpp"
#include "bench/model_metrics.hpp"
#include "core/errors.hpp"

namespace moebench {

struct ModelMemory {
  MemoryBreakdown predicted;  // the memory model for this batch (pre-flight)
  int64_t predicted_bytes = 0;  // what it predicts this process holds (CPU: no CUDA context)
  int64_t weights = 0, kv_cache = 0, activations = 0, graphs = 0;  // measured, by part
  int64_t device_total = 0, device_free = 0;  // after everything was allocated
  int64_t measured_bytes = 0;  // GPU: total - free (cudaMemGetInfo); CPU: peak allocated
  std::string measured_source;
  double difference() const { return double(measured_bytes - predicted_bytes) / double(predicted_bytes); }
};

// One rank's own figures of a batch size, in a run over ranks: its mean TTFT and TPOT, the memory
// it holds by part, and the last tokens it generated.
struct RankBatchFigures {
  int rank = 0;
  double mean_ttft_ms = 0, mean_tpot_ms = 0;
  int64_t weights = 0, kv_cache = 0, activations = 0, measured_bytes = 0, device_free = 0;
  std::vector<int32_t> last_tokens;
};

struct BatchResult {
  int64_t batch_size = 0;
  enum class Status { ok, refused, failed } status = Status::ok;
  // refused: the pre-flight line ("does not fit: needed X GiB vs available Y GiB ..."), kind OOM;
  // failed: the RuntimeFailure's message and kind.
  std::string failure;
  FailureKind failure_kind = FailureKind::OOM;
  // What the report says went wrong: the pre-flight line, or "<kind>: <message>".
  std::string failure_text() const;
  const char* status_name() const;  // ok, refused, failed
  std::vector<ModelRunTimes> runs;
  ModelMetrics metrics;
  std::string decode_launch = "eager";  // "graph": each decode step one CUDA graph replay
  double kv_alloc_ms = 0, graph_capture_ms = 0;
  std::vector<int32_t> last_tokens;  // each sequence's last generated token of the last timed run
  std::vector<int> active_experts;  // distinct routed experts per MoE layer on a counted decode step
  int64_t floor_context = 0;        // mean context of the decode steps, which the floor reads
  DecodeStepBytes floor_bytes;
  double tpot_floor_ms = 0;
  ModelMemory memory;  // over ranks: the rank that holds the most
  std::vector<RankBatchFigures> ranks;  // over ranks: each rank's, by rank (empty on one device)
};

struct ModelResult {
  std::string model, device, backend, dtype, moe_impl;
  int layers = 0, full_layers = 0;
  std::vector<std::string> notes;  // truncation, MLA approximation
  int64_t input_len = 0, output_len = 0, prefill_chunk = 0;
  int warmup_runs = 0, benchmark_runs = 0;
  int tp_size = 1, ep_size = 1;
  std::string communicator;  // the ranks' collective library (gloo, nccl); empty on one device
  uint64_t seed = 0;
  std::string command_line;
  Ceilings ceilings;
  double ceilings_ms = 0, weight_init_ms = 0, moe_prepare_ms = 0;
  std::vector<BatchResult> batches;
  bool any_failed() const;
};

}  // namespace moebench
