// `moebench sweep`'s run: the backend, the matrix from the file or the flags, the dry run, the
// store, the children, the summary and the exit code (sweep_job.hpp).
#include "sweep/sweep_job.hpp"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "bench/layer_defaults.hpp"
#include "bench/record_tables.hpp"
#include "core/errors.hpp"
#include "results/environment.hpp"
#include "results/timestamps.hpp"
#include "sweep/child_process.hpp"
#include "sweep/sweep_runner.hpp"

namespace moebench {

BackendKind resolve_sweep_backend(const std::string& text) {
  const BackendKind kind = parse_backend_kind(text);
  if (kind == BackendKind::cuda && !cuda_available())
    throw InputError("--backend cuda: no CUDA GPU is visible; use --backend cpu or auto");
  return kind == BackendKind::cpu || !cuda_available() ? BackendKind::cpu : BackendKind::cuda;
}

SweepMatrix sweep_job_matrix(const SweepJob& o, BackendKind backend) {
  if (!o.matrix_file.empty()) {
    if (o.axis_flags_given)
      throw InputError("--matrix: give the matrix either in the file or as flags (--model, --tp-size, ...), not both");
    SweepMatrix m = load_sweep_matrix(o.matrix_file);
    if (o.timeout_given) m.timeout_s = o.timeout_s;
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

int run_sweep_job(const SweepJob& o, const std::string& command_line) {
  const BackendKind backend = resolve_sweep_backend(o.backend);
  const SweepMatrix matrix = sweep_job_matrix(o, backend);
  const std::vector<SweepPoint> points = expand_sweep_matrix(matrix, backend, o.results_db);
  if (o.dry_run) {
    for (const SweepPoint& p : points) fmt::print("{}::{}  {}\n", p.model, p.config, reproducible_command(p));
    return 0;
  }
  ResultsStore store(o.results_db);
  DeviceInfo device;
  device.name = backend == BackendKind::cuda ? "CUDA GPU (see the children's records)" : "CPU";
  const RecordContext context{current_environment(device, backend), command_line, invocation_group_id("sweep", o.run_name),
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

}  // namespace moebench
