#pragma once
// `moebench info` as a job: what the user asked for (InfoJob) and the whole run of it
// (run_info_job): version and build options, the host, the GPU if one is visible, the backend
// and its implementations, and unless skipped the ceilings measured on that backend. The command
// line only fills an InfoJob; tests build one.
#include <string>

namespace moebench {

struct InfoJob {
  std::string backend = "auto";  // auto, cuda or cpu
  bool skip_ceilings = false;    // no copy bandwidth and GEMM rate measured
};

// Prints the machine on stdout. Returns 0. Throws InputError for an unknown backend.
int run_info_job(const InfoJob& job);

}  // namespace moebench
