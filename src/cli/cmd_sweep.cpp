// moebench sweep: a config matrix (seed 002), each config in its own child process with a
// timeout, failures classified and stored, a Markdown table grouped by model at the end.
// Parsing only; the work is sweep/.
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "backend/backend.hpp"
#include "bench/layer_defaults.hpp"
#include "bench/record_tables.hpp"
#include "cli/command.hpp"
#include "cli/vocabulary.hpp"
#include "cli/record_options.hpp"
#include "core/errors.hpp"
#include "results/environment.hpp"
#include "results/timestamps.hpp"
#include "sweep/child_process.hpp"
#include "sweep/sweep_runner.hpp"

namespace moebench::cli {

namespace {

struct SweepCommandOptions {
  std::string matrix_file;
  SweepBlock axes;  // from flags
  std::vector<int64_t> num_tokens;
  double timeout_s = 600;
  std::string backend = "auto";
  std::string results_db = kDefaultResultsDb;
  bool dry_run = false;
  bool quiet = false;
};

BackendKind resolve_backend(const std::string& text) {
  const BackendKind kind = parse_backend_kind(text);
  if (kind == BackendKind::cuda && !cuda_available())
    throw InputError("--backend cuda: no CUDA GPU is visible; use --backend cpu or auto");
  return kind == BackendKind::cpu || !cuda_available() ? BackendKind::cpu : BackendKind::cuda;
}

SweepMatrix matrix_of(const SweepCommandOptions& o, const CLI::App& app, BackendKind backend) {
  const bool axis_flags = app.count("--model") + app.count("--model-path") + app.count("--tp-size") +
                              app.count("--ep-size") + app.count("--impl") + app.count("--dtype") +
                              app.count("--num-tokens") + app.count("--scenarios") + app.count("--command") +
                              app.count("--batch-size") + app.count("--input-len") + app.count("--output-len") +
                              app.count("--num-layers") >
                          0;
  if (!o.matrix_file.empty()) {
    if (axis_flags)
      throw InputError("--matrix: give the matrix either in the file or as flags (--model, --tp-size, ...), not both");
    SweepMatrix m = load_sweep_matrix(o.matrix_file);
    if (app.count("--timeout")) m.timeout_s = o.timeout_s;
    validate_sweep_matrix(m);
    return m;
  }
  SweepMatrix m;
  m.source = "flags";
  m.timeout_s = o.timeout_s;
  SweepBlock b = o.axes;
  const bool gpu = backend == BackendKind::cuda;
  if (b.models.empty() && b.model_paths.empty()) b.models = {gpu ? kLayerGpuDefaultModel : kLayerCpuDefaultModel};
  b.num_tokens = o.num_tokens.empty() && b.command == "layer"
                     ? (gpu ? kLayerGpuDefaultTokens : kLayerCpuDefaultTokens)
                     : o.num_tokens;
  m.blocks = {b};
  validate_sweep_matrix(m);
  return m;
}

int run_sweep_command(const SweepCommandOptions& o, const CLI::App& app, const std::string& command_line) {
  const BackendKind backend = resolve_backend(o.backend);
  const SweepMatrix matrix = matrix_of(o, app, backend);
  const std::vector<SweepPoint> points = expand_sweep_matrix(matrix, backend, o.results_db);
  if (o.dry_run) {
    for (const SweepPoint& p : points) fmt::print("{}::{}  {}\n", p.model, p.config, reproducible_command(p));
    return 0;
  }
  ResultsStore store(o.results_db);
  DeviceInfo device;
  device.name = backend == BackendKind::cuda ? "CUDA GPU (see the children's records)" : "CPU";
  const RecordContext context{current_environment(device, backend), command_line, invocation_group_id("sweep"),
                              utc_now_iso()};
  if (!o.quiet)
    std::fprintf(stderr, "moebench sweep: %zu configs from %s on the %s backend, timeout %g s each, group %s\n",
                 points.size(), matrix.source.c_str(), backend_kind_name(backend), matrix.timeout_s,
                 context.group_id.c_str());
  std::FILE* progress_out = o.quiet ? nullptr : stderr;
  SweepProgress progress(int(points.size()), progress_out && isatty(fileno(stderr)), progress_out);
  const SweepOutcome outcome = run_sweep(points, self_executable(), store, context, matrix.source, progress);
  std::fputs(records_markdown(outcome.records).c_str(), stdout);
  if (!o.quiet) std::fprintf(stderr, "recorded in %s (group %s)\n", store.path().c_str(), context.group_id.c_str());
  return outcome.failed > 0 ? 1 : 0;
}

}  // namespace

Command add_sweep_command(CLI::App& app) {
  auto o = std::make_shared<SweepCommandOptions>();
  CLI::App* sub = app.add_subcommand(
      "sweep", "config matrix (models x TP x EP x impl x tokens/batch), each config crash-isolated, results kept");
  SweepBlock& b = o->axes;
  sub->add_option("--matrix", o->matrix_file, "JSON or YAML sweep file (see README); or the axis flags below");
  sub->add_option("--command", b.command, "layer or model")->capture_default_str();
  sub->add_option("--model", b.models,
                  fmt::format("presets, comma-separated (default: {} on a GPU, {} on the CPU)",
                              kLayerGpuDefaultModel, kLayerCpuDefaultModel))
      ->delimiter(',');
  sub->add_option("--model-path", b.model_paths, "Hugging Face config.json files or directories")->delimiter(',');
  add_tp_size(*sub, b.tp_sizes, "TP sizes")->delimiter(',')->capture_default_str();
  add_ep_size(*sub, b.ep_sizes, "EP sizes")->delimiter(',')->capture_default_str();
  add_impl(*sub, b.impls, "implementations, or all (model: its --impl)")->delimiter(',')->capture_default_str();
  sub->add_option("--dtype", b.dtypes, "dtypes")->delimiter(',')->capture_default_str();
  sub->add_option("--num-tokens", o->num_tokens, "layer: token counts (default: 64 512 4096 on a GPU, 32 128 on the CPU)")
      ->delimiter(',');
  sub->add_option("--scenarios", b.scenarios, "layer: routing scenarios")->delimiter(',')->capture_default_str();
  sub->add_option("--batch-size", b.batch_sizes, "model: batch sizes")->delimiter(',')->capture_default_str();
  add_input_len(*sub, b.input_lens, "model: input lengths")->delimiter(',')->capture_default_str();
  add_output_len(*sub, b.output_lens, "model: output lengths")->delimiter(',')->capture_default_str();
  sub->add_option("--num-layers", b.num_layers, "model: run the first N layers (default: all)")->delimiter(',');
  add_warmup_iters(*sub, b.warmup, "untimed iterations (model: runs) of each config");
  add_benchmark_iters(*sub, b.benchmark, "timed iterations (model: runs) of each config");
  sub->add_option("--timeout", o->timeout_s, "seconds each config may run before it is killed (Timeout)")
      ->capture_default_str();
  sub->add_option("--backend", o->backend, "auto (GPU if present), cuda or cpu")->capture_default_str();
  add_results_db_option(*sub, o->results_db);
  sub->add_flag("--dry-run", o->dry_run, "print each config's key and command line; run nothing");
  sub->add_flag("--quiet", o->quiet, "no progress on stderr");
  return {sub, [o, sub] { return run_sweep_command(*o, *sub, invocation()); }};
}

}  // namespace moebench::cli
