#pragma once
// `moebench memory` as a job: what the user asked for, as given (MemoryJob), and the whole run of
// it (run_memory_job): the output format checked, the request built with its default dtypes, the
// memory of one GPU (asked for, else the visible GPU's, else an H100's), the breakdown printed
// and the fit verdict as the exit code. The command line only fills a MemoryJob; tests build one.
#include <cstdint>
#include <optional>
#include <string>

#include "core/defaults.hpp"
#include "core/model_options.hpp"

namespace moebench {

// The model sized when none is named: a real MoE whose fit on one GPU is the common question.
inline constexpr const char* kMemoryDefaultModel = "qwen3-30b-a3b";

struct MemoryJob {
  ModelOptions model;  // none named: kMemoryDefaultModel
  int64_t batch_size = 1;
  int64_t input_len = kDefaultInputLen;
  int64_t output_len = kDefaultOutputLen;
  int tp_size = 1;
  int ep_size = 1;
  std::string dtype;  // empty: as the model is published
  std::string kv_cache_dtype = "auto";
  std::string mode = "inference";
  std::optional<double> gpu_memory_gib;  // unset: the visible GPU's total, else an H100's
  int64_t chunked_prefill_size = kDefaultChunkedPrefillSize;
  std::optional<int64_t> cuda_graph_max_bs;
  std::string output_format = "table";  // table or json
};

// Prints the breakdown (table or JSON) on stdout. Returns 0 when it fits; 1 when it does not,
// with the verdict on stderr. Throws InputError for bad input before the GPU is touched.
int run_memory_job(const MemoryJob& job);

}  // namespace moebench
