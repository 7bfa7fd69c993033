#pragma once
// `moebench info` as a job: what the user asked for (InfoJob) and the whole run of it
// (run_info_job): version and build options, the host, the GPU if one is visible, the backend
// and its implementations; on the GPU the links between the visible GPUs (dist/gpu_links.hpp)
// and NCCL's version; and unless skipped the ceilings measured on that backend: copy bandwidth
// and GEMM rate (analysis/ceilings.hpp), and on the GPU NCCL's all-reduce and all-to-all bus
// bandwidth over every visible GPU as nccl-tests measures it (dist/nccl_bus_bandwidth.hpp).
// Printed as text, or as one JSON object with the same figures. The command line only fills an
// InfoJob; tests build one.
#include <string>

namespace moebench {

struct InfoJob {
  std::string backend = "auto";          // auto, cuda or cpu
  bool skip_ceilings = false;            // no copy bandwidth, GEMM rate or NCCL bus bandwidth measured
  std::string output_format = "table";   // table (text) or json
};

// Prints the machine on stdout. Returns 0. Throws InputError for an unknown backend or format,
// before anything is measured.
int run_info_job(const InfoJob& job);

}  // namespace moebench
