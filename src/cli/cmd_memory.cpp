// moebench memory: per-GPU memory breakdown and the fit verdict, before anything runs (seeds
// 000, 001, 004). Exit 0 when it fits, 1 when it does not (the verdict says by how much), 2 on
// bad input.
#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include "analysis/memory_fit.hpp"
#include "backend/backend.hpp"
#include "cli/command.hpp"
#include "cli/model_options.hpp"
#include "cli/vocabulary.hpp"
#include "core/defaults.hpp"
#include "core/errors.hpp"
#include "report/memory_report.hpp"

namespace moebench::cli {

namespace {

constexpr const char* kDefaultModel = "qwen3-30b-a3b";

struct MemoryCommandOptions {
  ModelOptions model;
  int64_t batch_size = 1;
  int64_t input_len = kDefaultInputLen;
  int64_t output_len = kDefaultOutputLen;
  int tp_size = 1;
  int ep_size = 1;
  std::string dtype;  // empty: as the model is published
  std::string kv_cache_dtype = "auto";
  std::string mode = "inference";
  std::optional<double> gpu_memory_gib;
  int64_t chunked_prefill_size = kDefaultChunkedPrefillSize;
  std::optional<int64_t> cuda_graph_max_bs;
  std::string output_format = "table";
};

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

int run_memory(const MemoryCommandOptions& o) {
  if (o.output_format != "table" && o.output_format != "json")
    throw InputError(fmt::format("--output-format: unknown format '{}': use table or json", o.output_format));
  MemoryRequest r;
  r.mode = parse_memory_mode(o.mode);
  r.model = o.model.resolve(kDefaultModel, /*whole_model=*/true);
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

}  // namespace

Command add_memory_command(CLI::App& app) {
  auto o = std::make_shared<MemoryCommandOptions>();
  CLI::App* sub = app.add_subcommand("memory", "per-GPU memory breakdown and fit verdict, before running");
  add_model_flags(*sub, o->model, kDefaultModel);
  add_decoder_flags(*sub, o->model);
  sub->add_option("--batch-size", o->batch_size, "sequences (train: micro-batch)")->capture_default_str();
  add_input_len(*sub, o->input_len, "prompt tokens per sequence")->capture_default_str();
  add_output_len(*sub, o->output_len, "generated tokens per sequence")->capture_default_str();
  add_tp_size(*sub, o->tp_size,
                  "GPUs: attention, dense MLP and vocabulary split tp ways (SGLang's --tp)")->capture_default_str();
  add_ep_size(*sub, o->ep_size,
                  "expert-parallel groups: routed experts split ep ways by expert, tp/ep ways within (SGLang's --ep)")
      ->capture_default_str();
  sub->add_option("--dtype", o->dtype, "weights: bf16, fp16 or fp8 (128x128 block-scaled) (default: as published)");
  sub->add_option("--kv-cache-dtype", o->kv_cache_dtype, "auto (the activation dtype), bf16, fp16 or fp8")
      ->capture_default_str();
  sub->add_option("--mode", o->mode, "inference, or train (weights + grads + Adam + saved activations)")
      ->capture_default_str();
  sub->add_option("--gpu-memory-gib", o->gpu_memory_gib,
                  "memory of one GPU (default: the visible GPU's total, else 80 for an H100 80GB)");
  add_chunked_prefill_size(*sub, o->chunked_prefill_size,
                  "prompt tokens per prefill step; 0: the whole batch at once")->capture_default_str();
  sub->add_option("--cuda-graph-max-bs", o->cuda_graph_max_bs,
                  "largest decode batch captured in CUDA graphs; 0: none (default: --batch-size)");
  add_output_format(*sub, o->output_format, "table or json")->capture_default_str();
  return {sub, [o] { return run_memory(*o); }};
}

}  // namespace moebench::cli
