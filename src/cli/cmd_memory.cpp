// moebench memory: per-GPU memory breakdown and the fit verdict, before anything runs (seeds
// 000, 001, 004). Exit 0 when it fits, 1 when it does not (the verdict says by how much), 2 on
// bad input. The flags fill a MemoryJob; the job itself is report/memory_job.
#include "cli/command.hpp"
#include "cli/model_options.hpp"
#include "cli/vocabulary.hpp"
#include "report/memory_job.hpp"

namespace moebench::cli {

Command add_memory_command(CLI::App& app) {
  auto o = std::make_shared<MemoryJob>();
  CLI::App* sub = app.add_subcommand("memory", "per-GPU memory breakdown and fit verdict, before running");
  add_model_flags(*sub, o->model, kMemoryDefaultModel);
  add_decoder_flags(*sub, o->model);
  sub->add_option("--batch-size", o->batch_size, "sequences (train: micro-batch)")->capture_default_str();
  sub->add_option(kInputLenFlags, o->input_len, "prompt tokens per sequence")->capture_default_str();
  sub->add_option(kOutputLenFlags, o->output_len, "generated tokens per sequence")->capture_default_str();
  sub->add_option(kTpSizeFlags, o->tp_size,
                  "GPUs: attention, dense MLP and vocabulary split tp ways (SGLang's --tp)")->capture_default_str();
  sub->add_option(kEpSizeFlags, o->ep_size,
                  "expert-parallel groups: routed experts split ep ways by expert, tp/ep ways within (SGLang's --ep)")
      ->capture_default_str();
  sub->add_option("--dtype", o->dtype, "weights: bf16, fp16 or fp8 (128x128 block-scaled) (default: as published)");
  sub->add_option("--kv-cache-dtype", o->kv_cache_dtype, "auto (the activation dtype), bf16, fp16 or fp8")
      ->capture_default_str();
  sub->add_option("--mode", o->mode, "inference, or train (weights + grads + Adam + saved activations)")
      ->capture_default_str();
  sub->add_option("--gpu-memory-gib", o->gpu_memory_gib,
                  "memory of one GPU (default: the visible GPU's total, else 80 for an H100 80GB)");
  sub->add_option(kChunkedPrefillSizeFlags, o->chunked_prefill_size,
                  "prompt tokens per prefill step; 0: the whole batch at once")->capture_default_str();
  sub->add_option("--cuda-graph-max-bs", o->cuda_graph_max_bs,
                  "largest decode batch captured in CUDA graphs; 0: none (default: --batch-size)");
  sub->add_option(kOutputFormatFlags, o->output_format, "table or json")->capture_default_str();
  return {sub, [o] { return run_memory_job(*o); }};
}

}  // namespace moebench::cli
