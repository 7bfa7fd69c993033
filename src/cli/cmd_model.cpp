// moebench model: the end-to-end inference benchmark (the NxDI summary and SGLang's batch sweep). The flags fill a
// ModelJob; the job itself, checks, run and output, is bench/model_job.
#include <string>

#include "bench/model_job.hpp"
#include "bench/writers.hpp"
#include "cli/command.hpp"
#include "cli/model_options.hpp"
#include "cli/parallel_options.hpp"
#include "cli/profile_options.hpp"
#include "cli/record_options.hpp"
#include "cli/vocabulary.hpp"

namespace moebench::cli {

Command add_model_command(CLI::App& app) {
  auto o = std::make_shared<ModelJob>();
  CLI::App* sub = app.add_subcommand("model", "end-to-end inference benchmark: TTFT, TPOT, ITL, throughput per batch size");
  add_model_flags(*sub, o->model,
                  std::string(kModelGpuDefaultModel) + " on a GPU, " + kModelCpuDefaultModel + " on the CPU");
  add_decoder_flags(*sub, o->model);
  sub->add_option("--batch-size", o->batch_sizes, "batch sizes, comma-separated (default: 1,8 on a GPU, 1,2 on the CPU)")
      ->delimiter(',');
  sub->add_option(kInputLenFlags, o->input_lens,
                "prompt tokens per sequence, comma-separated: each crossed with every output length and batch size "
                "(default: 1024 on a GPU, 32 on the CPU)")
      ->delimiter(',');
  sub->add_option(kOutputLenFlags, o->output_lens, "generated tokens per sequence, comma-separated (default: 64 on a GPU, 8 on the CPU)")
      ->delimiter(',');
  sub->add_option(kWarmupItersFlags, o->warmup_runs, "untimed runs (prefill + decode of the batch) first")->capture_default_str();
  sub->add_option(kBenchmarkItersFlags, o->benchmark_runs, "timed runs per batch size")->capture_default_str();
  sub->add_option("--dtype", o->dtype, "bf16 or fp16 (fp8: `layer` on the CPU and `memory` only in this build)")->capture_default_str();
  sub->add_option("--num-layers", o->num_layers, "run the first N layers only (stated in the output)");
  sub->add_option(kImplFlags, o->moe_impl, impl_help("the MoE layers' implementation (default: auto on a GPU, reference on the CPU):"));
  const std::function<void()> resolve_layout =
      add_parallel_flags(*sub, o->tp_size, o->ep_size, model_tp_size_help(), model_ep_size_help());
  sub->add_option("--dist-init-addr", o->dist_init_addr,
                  "rank 0's rendezvous HOST:PORT, the same on every node (needed with --nnodes > 1)");
  sub->add_option("--nnodes", o->nnodes, "nodes the --tp-size ranks are spread over")->capture_default_str();
  sub->add_option("--node-rank", o->node_rank, "this node's rank, 0 to nnodes - 1")->capture_default_str();
  sub->add_option("--dist-timeout", o->dist_timeout_s,
                  "seconds a rank waits for its peers: for every node to arrive at the rendezvous (else exit 2), "
                  "and in each collective")
      ->capture_default_str();
  sub->add_option(kChunkedPrefillSizeFlags, o->chunked_prefill_size, "most prompt tokens per prefill step")->capture_default_str();
  sub->add_option("--backend", o->backend, backend_help())->capture_default_str();
  sub->add_option("--seed", o->seed, "seed of weights and prompts")->capture_default_str();
  sub->add_option(kOutputFormatFlags, o->output_format, output_format_help());
  sub->footer(output_formats_footer());
  sub->add_option("--output-file", o->output_file, "output base path (default ./model_results)");
  sub->add_flag("--quiet", o->quiet, "no progress on stderr");
  add_profile_flags(
      *sub, o->profile,
      "after each batch size's timed runs, trace a prefill and a few decode steps (Chrome trace per batch size)");
  add_record_flags(*sub, o->record);
  return {sub, [o, resolve_layout] {
            resolve_layout();
            return run_model_job(*o, invocation());
          }};
}

}  // namespace moebench::cli
