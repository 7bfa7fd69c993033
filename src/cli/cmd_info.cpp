// moebench info: version, build options, the machine, and on a GPU the measured ceilings. The
// flags fill an InfoJob; the job itself is bench/info_job.
#include "bench/info_job.hpp"
#include "cli/command.hpp"

namespace moebench::cli {

Command add_info_command(CLI::App& app) {
  auto opt = std::make_shared<InfoJob>();
  CLI::App* sub = app.add_subcommand("info", "GPUs, versions, build options and measured ceilings");
  sub->add_option("--backend", opt->backend, "auto, cuda or cpu")->capture_default_str();
  sub->add_flag("--skip-ceilings", opt->skip_ceilings, "do not measure copy bandwidth and GEMM rate");
  return {sub, [opt] { return run_info_job(*opt); }};
}

}  // namespace moebench::cli
