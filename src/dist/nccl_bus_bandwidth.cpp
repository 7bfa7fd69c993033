// NCCL's bus bandwidth report: version names, sizes, text and JSON (nccl_bus_bandwidth.hpp); the
// measurement itself is nccl_bus_bandwidth_cuda.cpp.
#include "dist/nccl_bus_bandwidth.hpp"

#include <fmt/format.h>

namespace moebench {

std::string nccl_version_text(int code) {
  if (code <= 0) return "unknown";
  // NCCL_VERSION(X,Y,Z): X*1000 + Y*100 + Z up to 2.8, X*10000 + Y*100 + Z after.
  if (code < 10000) return fmt::format("{}.{}.{}", code / 1000, code % 1000 / 100, code % 100);
  return fmt::format("{}.{}.{}", code / 10000, code % 10000 / 100, code % 100);
}

std::vector<size_t> nccl_default_sizes(size_t free_bytes) {
  std::vector<size_t> sizes;
  for (size_t mib : {1, 16, 64, 256}) {
    const size_t bytes = mib << 20;
    if (sizes.empty() || 2 * bytes <= free_bytes / 4) sizes.push_back(bytes);
  }
  return sizes;
}

const BusBandwidth* largest(const std::vector<BusBandwidth>& by_size) {
  const BusBandwidth* best = nullptr;
  for (const BusBandwidth& b : by_size)
    if (b.measured() && (!best || b.bytes > best->bytes)) best = &b;
  return best;
}

std::string nccl_bus_bandwidth_text(const NcclBusBandwidthReport& r, const std::string& indent) {
  std::string out = fmt::format("{}{} GPU{}, one communicator each (ncclCommInitAll), float, out of place, "
                                "NCCL_NVLS_ENABLE={}, median of {} after {} warm-up\n",
                                indent, r.gpus, r.gpus == 1 ? "" : "s", r.nvls, r.iters, r.warmup);
  out += fmt::format("{}{:>10}  {:>10}  {:>8}  {:>8}  {:>10}  {:>8}  {:>8}\n", indent, "size", "all_reduce", "algbw",
                     "busbw", "alltoall", "algbw", "busbw");
  out += fmt::format("{}{:>10}  {:>10}  {:>8}  {:>8}  {:>10}  {:>8}  {:>8}\n", indent, "(B)", "(us)", "(GB/s)",
                     "(GB/s)", "(us)", "(GB/s)", "(GB/s)");
  for (size_t i = 0; i < r.all_reduce.size() && i < r.all_to_all.size(); ++i) {
    const BusBandwidth &a = r.all_reduce[i], &t = r.all_to_all[i];
    out += fmt::format("{}{:>10}  {:>10.1f}  {:>8.2f}  {:>8.2f}  {:>10.1f}  {:>8.2f}  {:>8.2f}\n", indent, a.bytes,
                       a.time_ms * 1e3, a.algbw_gbps, a.busbw_gbps, t.time_ms * 1e3, t.algbw_gbps, t.busbw_gbps);
  }
  return out;
}

std::string nccl_ceiling_text(const NcclBusBandwidthReport& r) {
  const BusBandwidth *a = largest(r.all_reduce), *t = largest(r.all_to_all);
  if (!a || !t) return "NCCL busbw not measured";
  if (r.gpus == 1)
    return fmt::format("NCCL 1 GPU: no inter-GPU traffic, busbw 0 by nccl-tests' formula (all_reduce {:.1f} us, "
                       "alltoall {:.1f} us at {})",
                       a->time_ms * 1e3, t->time_ms * 1e3, size_text(t->bytes));
  return fmt::format("NCCL busbw all_reduce {:.1f} GB/s, alltoall {:.1f} GB/s ({} per GPU, {} GPUs)", a->busbw_gbps,
                     t->busbw_gbps, size_text(t->bytes), r.gpus);
}

nlohmann::ordered_json nccl_bus_bandwidth_json(const NcclBusBandwidthReport& r) {
  nlohmann::ordered_json all_reduce = nlohmann::ordered_json::array(), all_to_all = nlohmann::ordered_json::array();
  for (const BusBandwidth& b : r.all_reduce) all_reduce.push_back(bus_bandwidth_json(b));
  for (const BusBandwidth& b : r.all_to_all) all_to_all.push_back(bus_bandwidth_json(b));
  nlohmann::ordered_json ceiling = nlohmann::ordered_json::object();
  if (const BusBandwidth* a = largest(r.all_reduce)) ceiling["all_reduce"] = bus_bandwidth_json(*a);
  if (const BusBandwidth* t = largest(r.all_to_all)) ceiling["alltoall"] = bus_bandwidth_json(*t);
  return {{"version", nccl_version_text(r.runtime_version)},
          {"compiled_version", nccl_version_text(r.compiled_version)},
          {"nvls_enable", r.nvls},
          {"gpus", r.gpus},
          {"warmup", r.warmup},
          {"iters", r.iters},
          {"all_reduce", all_reduce},
          {"alltoall", all_to_all},
          {"ceiling", ceiling}};
}

}  // namespace moebench
