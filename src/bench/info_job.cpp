// `moebench info`'s run: the build, the machine, the backend's implementations and its measured
// ceilings, printed (info_job.hpp).
#include "bench/info_job.hpp"

#include <cstdint>

#include <fmt/format.h>

#include "analysis/ceilings.hpp"
#include "backend/backend.hpp"
#include "core/build_info.hpp"
#include "core/parallel.hpp"
#include "moe/moe_impl.hpp"

namespace moebench {

namespace {

double gib(int64_t bytes) { return double(bytes) / double(int64_t(1) << 30); }

}  // namespace

int run_info_job(const InfoJob& opt) {
  fmt::print("moebench {} (git {})\n", build_version(), build_git_revision());
  fmt::print("build       {}, {}, CUDA {}\n", build_type(), build_compiler(),
             build_with_cuda() ? fmt::format("{} [{}]", build_cuda_compiler(), build_cuda_flags())
                               : std::string("off"));
  auto cpu = make_backend(BackendKind::cpu);
  DeviceInfo host = cpu->device_info();
  fmt::print("cpu         {} ({} threads), {:.1f} GiB memory, {:.1f} GiB available\n", host.name,
             hardware_threads(), gib(host.total_memory_bytes), gib(host.free_memory_bytes));

  auto backend = make_backend(parse_backend_kind(opt.backend));
  if (backend->kind() == BackendKind::cuda) {
    DeviceInfo gpu = backend->device_info();
    fmt::print("gpu         {} (sm_{}), {} SMs, {:.1f} GiB memory ({:.1f} GiB free), {:.0f} MiB L2\n",
               gpu.name, gpu.compute_capability, gpu.multiprocessors, gib(gpu.total_memory_bytes),
               gib(gpu.free_memory_bytes), double(gpu.l2_bytes) / (1 << 20));
    fmt::print("            driver {}, runtime {}\n", gpu.driver_version, gpu.runtime_version);
  } else {
    fmt::print("gpu         none visible{}\n", build_with_cuda() ? "" : " (built without CUDA)");
  }
  fmt::print("backend     {}\n", backend_kind_name(backend->kind()));
  std::string impls;
  for (const ImplInfo& info : all_impls())
    if (info.backend == backend->kind()) impls += (impls.empty() ? "" : ", ") + info.name;
  fmt::print("impls       {}\n", impls);

  if (!opt.skip_ceilings) {
    Ceilings c = measure_ceilings(*backend);
    fmt::print("ceilings    copy {:.0f} GB/s ({})\n", c.copy_gbps, c.copy_method);
    if (c.known())
      fmt::print("            bf16 GEMM {:.0f} TFLOP/s ({})\n", c.gemm_tflops, c.gemm_method);
    else
      fmt::print("            bf16 GEMM: {}\n", c.gemm_method);
  }
  return 0;
}

}  // namespace moebench
