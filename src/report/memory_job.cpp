// `moebench memory`'s run: the request from the job, the GPU's memory, the breakdown and the
// verdict's exit code (memory_job.hpp).
#include "report/memory_job.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "analysis/memory_fit.hpp"
#include "backend/backend.hpp"
#include "core/errors.hpp"
#include "report/memory_report.hpp"

namespace moebench {

namespace {

std::optional<GpuMemory> visible_gpu_memory() {
  if (!cuda_available()) return std::nullopt;
  DeviceInfo info = make_backend(BackendKind::cuda)->device_info();
  return GpuMemory{info.total_memory_bytes, fmt::format("{}, cudaMemGetInfo total", info.name)};
}

// The published weight dtype for inference; training starts from bf16 unless asked otherwise.
DType default_weight_dtype(const ModelConfig& model, MemoryMode mode) {
  if (model.weight_dtype == "fp16") return DType::fp16;
  if (model.weight_dtype == "fp8" && mode == MemoryMode::inference) return DType::fp8;
  return DType::bf16;
}

}  // namespace

int run_memory_job(const MemoryJob& o) {
  if (o.output_format != "table" && o.output_format != "json")
    throw InputError(fmt::format("--output-format: unknown format '{}': use table or json", o.output_format));
  MemoryRequest r;
  r.mode = parse_memory_mode(o.mode);
  r.model = o.model.resolve(kMemoryDefaultModel, /*whole_model=*/true);
  r.layout = {o.tp_size, o.ep_size};
  r.weight_dtype = o.dtype.empty() ? default_weight_dtype(r.model, r.mode) : parse_dtype(o.dtype);
  r.kv_dtype = o.kv_cache_dtype == "auto" ? r.activation_dtype() : parse_dtype(o.kv_cache_dtype);
  r.batch_size = o.batch_size;
  r.input_len = o.input_len;
  r.output_len = o.output_len;
  r.chunked_prefill_size = o.chunked_prefill_size;
  r.cuda_graph_max_bs = o.cuda_graph_max_bs;
  validate_memory_request(r);  // before the GPU is touched
  GpuMemory available = resolve_gpu_memory(o.gpu_memory_gib, &visible_gpu_memory);

  MemoryAssessment a = assess_memory(r, available);
  std::fputs((o.output_format == "json" ? memory_json(a) : format_memory_table(a)).c_str(), stdout);
  if (a.fits()) return 0;
  std::fprintf(stderr, "moebench memory: %s\n", memory_verdict_line(a).c_str());
  return 1;
}

}  // namespace moebench
