// moebench layer: the MoE layer benchmark (as sgl-jax's MoE benchmark and SonicMoE's suite run it). The flags fill a LayerJob; the
// job itself, checks, run and output, is bench/layer_job.
#include <string>

#include "bench/layer_defaults.hpp"
#include "bench/layer_job.hpp"
#include "bench/writers.hpp"
#include "cli/command.hpp"
#include "cli/model_options.hpp"
#include "cli/parallel_options.hpp"
#include "cli/profile_options.hpp"
#include "cli/record_options.hpp"
#include "cli/vocabulary.hpp"

namespace moebench::cli {

Command add_layer_command(CLI::App& app) {
  auto o = std::make_shared<LayerJob>();
  CLI::App* sub = app.add_subcommand("layer", "MoE layer benchmark: implementations x scenarios x token counts");
  add_model_flags(*sub, o->model,
                  std::string(kLayerGpuDefaultModel) + " on a GPU, " + kLayerCpuDefaultModel + " on the CPU");
  sub->add_option("--num-tokens", o->num_tokens, "token counts (default: 64 512 4096 on a GPU, 32 128 on the CPU)")
      ->delimiter(',');
  sub->add_option("--scenarios", o->scenarios, "random, balanced, imbalanced, zipf, hot-experts")->delimiter(',')->capture_default_str();
  sub->add_option("--imbalance-factor", o->imbalance_factor,
                  "imbalanced scenario: busiest expert load / average load (default: 3, or the most that "
                  "num_experts / top_k allows)");
  sub->add_option("--routing-file", o->routing_file,
                  "replay recorded routing instead of the scenarios: an --export-routing directory or its "
                  "manifest.json (bench/record_routing.py records one from a Hugging Face model); token counts come "
                  "from the file, --num-tokens N replays each run's first N tokens");
  sub->add_option("--zipf-exponent", o->zipf_exponent,
                  "zipf scenario: expert e (0-based) has popularity (e+1)^-s; 1 is the classic Zipf law")
      ->capture_default_str();
  sub->add_option("--hot-experts", o->hot_experts,
                  "hot-experts scenario: how many hot experts (experts 0..N-1; default: top_k)");
  sub->add_option("--hot-share", o->hot_share,
                  "hot-experts scenario: the share of token-expert assignments the hot experts take, in (0, 1]")
      ->capture_default_str();
  sub->add_option(kImplFlags, o->impls, impl_help("implementations, comma-separated, or all:"))->delimiter(',')->capture_default_str();
  const std::function<void()> resolve_layout = add_parallel_flags(
      *sub, o->tp_size, o->ep_size,
      "ranks in all, one process (one GPU) each, started here or by mpirun/srun/torchrun; tensor parallel inside "
      "the MoE layer = tp_size / ep_size",
      "expert-parallel groups: routed experts split ep ways (impl ep, tp)");
  sub->add_option("--dist-init-addr", o->dist_init_addr,
                  "rank 0's rendezvous HOST:PORT, the same on every node (needed with --nnodes > 1)");
  sub->add_option("--nnodes", o->nnodes, "nodes the --tp-size ranks are spread over")->capture_default_str();
  sub->add_option("--node-rank", o->node_rank, "this node's rank, 0 to nnodes - 1")->capture_default_str();
  sub->add_option("--dist-timeout", o->dist_timeout_s,
                  "seconds a rank waits for its peers: for every node to arrive at the rendezvous (else exit 2), "
                  "and in each collective")
      ->capture_default_str();
  sub->add_option(kWarmupItersFlags, o->warmup_iters, "untimed iterations first")->capture_default_str();
  sub->add_option(kBenchmarkItersFlags, o->benchmark_iters, "timed iterations")->capture_default_str();
  sub->add_option("--dtype", o->dtype, "bf16, fp16 or fp8 (e4m3 weights, bf16 in and out; CPU backend only in this build)")
      ->capture_default_str();
  sub->add_option(kFp8ScalingFlags, o->fp8_scaling,
                  "with --dtype fp8: block (128x128 weight blocks, activations per token per 128 channels: "
                  "DeepSeek-V3), channel or tensor (vLLM fp8_w8a8: per-channel / per-tensor weights, per-token "
                  "activations) (default: block)");
  sub->add_option("--backend", o->backend, backend_help())->capture_default_str();
  sub->add_option("--seed", o->seed, "seed of weights, inputs and routing")->capture_default_str();
  sub->add_flag("--no-verify", o->no_verify, "skip the check against the fp64 reference");
  sub->add_option("--verify-tokens", o->verify_tokens, "tokens compared with the fp64 reference per run")
      ->capture_default_str();
  sub->add_option(kOutputFormatFlags, o->output_format, output_format_help());
  sub->footer(output_formats_footer());
  sub->add_option("--output-file", o->output_file, "output base path (default ./benchmark_results)");
  sub->add_flag("--quiet", o->quiet, "no progress on stderr");
  sub->add_flag("--routed-only", o->routed_only,
                "leave the shared experts out: the routed experts alone, as the roofline floor counts them");
  sub->add_option("--export-routing", o->export_routing_dir,
                  "write each run's router logits and routing to DIR (raw arrays + manifest.json), for bench/peers.py");
  add_record_flags(*sub, o->record);
  add_profile_flags(*sub, o->profile,
                    "write a Chrome trace (Perfetto) per scenario x implementation x token count, "
                    "with kernel spans on a GPU");
  return {sub, [o, resolve_layout] {
            resolve_layout();
            return run_layer_job(*o, invocation());
          }};
}

}  // namespace moebench::cli
