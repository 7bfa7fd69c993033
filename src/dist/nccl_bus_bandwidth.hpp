#pragma once
// NCCL's bus bandwidth over this machine's GPUs, measured as nccl-tests' all_reduce_perf and
// alltoall_perf measure it with `-g <gpus>`: one process, one communicator per visible GPU
// (ncclCommInitAll), out-of-place calls on float data, every GPU's call of an iteration in one
// NCCL group, at a few sizes up to 256 MiB per GPU (fewer where memory is short). All-reduce is ncclAllReduce (sum); all-to-all is ncclAlltoAll, which nccl-tests runs
// with NCCL 2.28 (grouped ncclSend/ncclRecv before it). algbw and busbw are nccl-tests' formulas
// (dist/bus_bandwidth.hpp).
//
// Timing: CUDA events on each GPU's stream around each iteration, warm-up first; an iteration
// takes as long as its slowest GPU (nccl-tests times all GPUs of a process together); the median
// over iterations. Each size's result is checked once: all-reduce of (rank + 1) is n (n + 1) / 2
// in every element, all-to-all delivers every peer's block of its own byte. The largest size's
// busbw is the ceiling `moebench info` prints.
//
// One GPU runs the same calls (NCCL copies within the GPU) and reports busbw 0, as the formula
// says: no bytes cross between GPUs. NVLink multicast stays off: NCCL_NVLS_ENABLE=0 is set before
// init unless the user set it.
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dist/bus_bandwidth.hpp"

namespace moebench {

struct NcclBusBandwidthOptions {
  std::vector<size_t> sizes;  // bytes per GPU, ascending; empty: nccl_default_sizes(free memory)
  int warmup = 5;
  int iters = 20;
};

struct NcclBusBandwidthReport {
  int runtime_version = 0;   // ncclGetVersion
  int compiled_version = 0;  // NCCL_VERSION_CODE of the headers moebench was built with
  int gpus = 0;
  std::string nvls;          // NCCL_NVLS_ENABLE as the communicators saw it
  int warmup = 0, iters = 0;
  std::vector<BusBandwidth> all_reduce, all_to_all;  // by size, ascending
};

// "2.28.9" from NCCL's version code (22809; 2.8.4 and older: 2804).
std::string nccl_version_text(int code);
// 1 MiB, 16 MiB, 64 MiB, 256 MiB, the larger ones only where two buffers of that size fit in a
// quarter of `free_bytes` (the smallest GPU's free memory).
std::vector<size_t> nccl_default_sizes(size_t free_bytes);
// The ceiling: the largest size's busbw; NaN where nothing was measured.
const BusBandwidth* largest(const std::vector<BusBandwidth>& by_size);
// The table `moebench info` prints, nccl-tests' columns, each line starting with `indent`.
std::string nccl_bus_bandwidth_text(const NcclBusBandwidthReport& r, const std::string& indent);
// The ceiling in one line: "NCCL busbw all_reduce 480.2 GB/s, alltoall 360.1 GB/s (256 MiB per GPU,
// 8 GPUs)"; on one GPU that no bytes crossed and what the calls took.
std::string nccl_ceiling_text(const NcclBusBandwidthReport& r);
nlohmann::ordered_json nccl_bus_bandwidth_json(const NcclBusBandwidthReport& r);

// CUDA builds only (nccl_bus_bandwidth_cuda.cpp).
int nccl_runtime_version();   // ncclGetVersion
int nccl_compiled_version();  // NCCL_VERSION_CODE
// Measures over every visible GPU. RuntimeFailure(NcclError / CudaError / OOM) on failure,
// RuntimeFailure(InvalidConfig) for a wrong result.
NcclBusBandwidthReport measure_nccl_bus_bandwidth(const NcclBusBandwidthOptions& options);

}  // namespace moebench
