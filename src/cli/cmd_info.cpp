// moebench info: version, build options, the machine, the GPUs' links and NCCL, and the measured
// ceilings. The flags fill an InfoJob; the job itself is bench/info_job.
#include "bench/info_job.hpp"
#include "cli/command.hpp"
#include "cli/vocabulary.hpp"

namespace moebench::cli {

Command add_info_command(CLI::App& app) {
  auto opt = std::make_shared<InfoJob>();
  CLI::App* sub = app.add_subcommand("info", "GPUs, links, versions, build options and measured ceilings");
  sub->add_option("--backend", opt->backend, "auto, cuda or cpu")->capture_default_str();
  sub->add_flag("--skip-ceilings", opt->skip_ceilings,
                "do not measure copy bandwidth, GEMM rate and NCCL bus bandwidth");
  sub->add_option(kOutputFormatFlags, opt->output_format, "table or json")->capture_default_str();
  return {sub, [opt] { return run_info_job(*opt); }};
}

}  // namespace moebench::cli
