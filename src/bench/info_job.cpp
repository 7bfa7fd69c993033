// `moebench info`'s run: the build, the machine, the backend's implementations, the GPUs' links
// and NCCL, and the measured ceilings, printed as text or JSON (info_job.hpp).
#include "bench/info_job.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analysis/ceilings.hpp"
#include "backend/backend.hpp"
#include "core/build_info.hpp"
#include "core/errors.hpp"
#include "core/parallel.hpp"
#include "dist/gpu_links.hpp"
#include "dist/nccl_bus_bandwidth.hpp"
#include "moe/moe_impl.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

double gib(int64_t bytes) { return double(bytes) / double(int64_t(1) << 30); }

json number(double v) { return std::isfinite(v) ? json(v) : json(); }

// What info found, gathered before it is printed in either format.
struct InfoFacts {
  DeviceInfo host;
  std::optional<DeviceInfo> gpu;
  BackendKind backend = BackendKind::cpu;
  std::vector<std::string> impls;
  std::optional<Ceilings> ceilings;
  std::optional<GpuLinks> links;
  int nccl_runtime = 0, nccl_compiled = 0;  // 0: no NCCL (a CPU build or backend)
  std::optional<NcclBusBandwidthReport> nccl;
};

std::string build_text() {
  return fmt::format("{}, {}, CUDA {}", build_type(), build_compiler(),
                     build_with_cuda() ? fmt::format("{} [{}]", build_cuda_compiler(), build_cuda_flags())
                                       : std::string("off"));
}

InfoFacts gather(const InfoJob& opt) {
  InfoFacts f;
  auto cpu = make_backend(BackendKind::cpu);
  f.host = cpu->device_info();
  auto backend = make_backend(parse_backend_kind(opt.backend));
  f.backend = backend->kind();
  if (f.backend == BackendKind::cuda) f.gpu = backend->device_info();
  for (const ImplInfo& info : all_impls())
    if (info.backend == f.backend) f.impls.push_back(info.name);
#ifdef MOEBENCH_WITH_CUDA
  if (f.backend == BackendKind::cuda) {
    f.links = probe_gpu_links();
    f.nccl_runtime = nccl_runtime_version();
    f.nccl_compiled = nccl_compiled_version();
  }
#endif
  if (!opt.skip_ceilings) {
    f.ceilings = measure_ceilings(*backend);
#ifdef MOEBENCH_WITH_CUDA
    if (f.backend == BackendKind::cuda) f.nccl = measure_nccl_bus_bandwidth({});
#endif
  }
  return f;
}

void print_text(const InfoFacts& f) {
  const std::string indent(12, ' ');
  fmt::print("moebench {} (git {})\n", build_version(), build_git_revision());
  fmt::print("build       {}\n", build_text());
  fmt::print("cpu         {} ({} threads), {:.1f} GiB memory, {:.1f} GiB available\n", f.host.name, hardware_threads(),
             gib(f.host.total_memory_bytes), gib(f.host.free_memory_bytes));
  if (f.gpu) {
    const DeviceInfo& gpu = *f.gpu;
    fmt::print("gpu         {} (sm_{}), {} SMs, {:.1f} GiB memory ({:.1f} GiB free), {:.0f} MiB L2\n", gpu.name,
               gpu.compute_capability, gpu.multiprocessors, gib(gpu.total_memory_bytes), gib(gpu.free_memory_bytes),
               double(gpu.l2_bytes) / (1 << 20));
    fmt::print("{}driver {}, runtime {}\n", indent, gpu.driver_version, gpu.runtime_version);
  } else {
    fmt::print("gpu         none visible{}\n", build_with_cuda() ? "" : " (built without CUDA)");
  }
  if (f.links) {
    fmt::print("gpu links   {} GPU{}, nvidia-smi topo -m names (NV# = NVLink x #, PIX/PXB/PHB/NODE/SYS = PCIe path); "
               "from {}\n",
               f.links->gpus(), f.links->gpus() == 1 ? "" : "s", f.links->source);
    std::fputs(gpu_links_matrix(*f.links, indent).c_str(), stdout);
    fmt::print("{}{}\n", indent, gpu_links_summary(*f.links));
  }
  if (f.nccl_runtime)
    fmt::print("nccl        {} (built with {})\n", nccl_version_text(f.nccl_runtime), nccl_version_text(f.nccl_compiled));
  fmt::print("backend     {}\n", backend_kind_name(f.backend));
  std::string impls;
  for (const std::string& name : f.impls) impls += (impls.empty() ? "" : ", ") + name;
  fmt::print("impls       {}\n", impls);
  if (f.ceilings) {
    const Ceilings& c = *f.ceilings;
    fmt::print("ceilings    copy {:.0f} GB/s ({})\n", c.copy_gbps, c.copy_method);
    if (c.known())
      fmt::print("{}bf16 GEMM {:.0f} TFLOP/s ({})\n", indent, c.gemm_tflops, c.gemm_method);
    else
      fmt::print("{}bf16 GEMM: {}\n", indent, c.gemm_method);
  }
  if (f.nccl) {
    fmt::print("{}{}\n", indent, nccl_ceiling_text(*f.nccl));
    const std::string table = nccl_bus_bandwidth_text(*f.nccl, indent);
    fmt::print("nccl busbw  {}", table.substr(indent.size()));
  }
}

json facts_json(const InfoFacts& f) {
  json out;
  out["moebench"] = {{"version", build_version()}, {"git", build_git_revision()}};
  out["build"] = {{"type", build_type()},
                  {"compiler", build_compiler()},
                  {"cuda", build_with_cuda() ? json(build_cuda_compiler()) : json()},
                  {"cuda_flags", build_with_cuda() ? json(build_cuda_flags()) : json()}};
  out["cpu"] = {{"name", f.host.name},
                {"threads", hardware_threads()},
                {"memory_bytes", f.host.total_memory_bytes},
                {"available_bytes", f.host.free_memory_bytes}};
  if (f.gpu)
    out["gpu"] = {{"name", f.gpu->name},
                  {"compute_capability", f.gpu->compute_capability},
                  {"multiprocessors", f.gpu->multiprocessors},
                  {"memory_bytes", f.gpu->total_memory_bytes},
                  {"free_bytes", f.gpu->free_memory_bytes},
                  {"l2_bytes", f.gpu->l2_bytes},
                  {"driver", f.gpu->driver_version},
                  {"runtime", f.gpu->runtime_version}};
  else
    out["gpu"] = nullptr;
  out["gpu_links"] = f.links ? gpu_links_json(*f.links) : json();
  out["backend"] = backend_kind_name(f.backend);
  out["impls"] = f.impls;
  if (f.ceilings)
    out["ceilings"] = {{"copy_gbps", number(f.ceilings->copy_gbps)},
                       {"copy_method", f.ceilings->copy_method},
                       {"gemm_tflops", number(f.ceilings->gemm_tflops)},
                       {"gemm_method", f.ceilings->gemm_method}};
  else
    out["ceilings"] = nullptr;
  if (f.nccl_runtime) {
    json nccl = f.nccl ? nccl_bus_bandwidth_json(*f.nccl) : json::object();
    nccl["version"] = nccl_version_text(f.nccl_runtime);
    nccl["compiled_version"] = nccl_version_text(f.nccl_compiled);
    out["nccl"] = nccl;
  } else {
    out["nccl"] = nullptr;
  }
  return out;
}

}  // namespace

int run_info_job(const InfoJob& opt) {
  if (opt.output_format != "table" && opt.output_format != "json")
    throw InputError(fmt::format("--output-format: unknown format '{}': use table or json", opt.output_format));
  parse_backend_kind(opt.backend);  // an unknown backend is refused before anything runs
  const InfoFacts facts = gather(opt);
  if (opt.output_format == "json")
    fmt::print("{}\n", facts_json(facts).dump(2));
  else
    print_text(facts);
  return 0;
}

}  // namespace moebench
