#pragma once
// How the visible GPUs reach each other: the matrix `nvidia-smi topo -m` prints, in its names
// (NV# = NVLink with # links, PIX / PXB / PHB / NODE / SYS = the PCIe path, X = the GPU itself),
// with CUDA's peer access beside it. It tells what NCCL's transports and the ranks of a parallel
// run have to work with, and which bus bandwidth to expect.
//
// Where it comes from (gpu_links_cuda.cpp, CUDA builds): NVML, opened with dlopen as NCCL opens
// it (libnvidia-ml.so.1 comes with the driver, not with the toolkit, so moebench neither links nor
// needs it): per GPU, its active NVLinks and what each reaches (another GPU, counted for that
// pair, or an NVSwitch, counted for the GPU: two GPUs on switches reach each other over the fewer
// of their switch links, as PyTorch and NCCL count them), and for pairs without NVLink the PCIe
// path (nvmlDeviceGetTopologyCommonAncestor). CUDA gives peer access per pair
// (cudaDeviceCanAccessPeer). Without NVML the link kinds stay unknown (the cell says P2P or
// -, from CUDA alone) and `source` says why.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moebench {

enum class LinkKind { self, nvlink, pcie, unknown };

struct GpuLink {
  LinkKind kind = LinkKind::unknown;
  int nvlinks = 0;   // NVLink: the links between the two GPUs (direct or through NVSwitch)
  std::string path;  // PCIe: PIX, PXB, PHB, NODE or SYS; "" where unknown
  bool p2p = false;  // CUDA peer access from the row's GPU to the column's
};

struct GpuLinks {
  std::vector<std::string> bus_ids;         // by CUDA device index: "0000:18:00.0"
  std::vector<std::vector<GpuLink>> links;  // [from][to], square
  bool nvswitch = false;                    // some GPU's NVLinks reach an NVSwitch
  std::string source;                       // what the kinds were read from, or why they are unknown
  int gpus() const { return int(links.size()); }
};

// The cell of one pair: "X", "NV18", "PIX" .. "SYS", or without NVML "P2P" (peer access, link
// unknown) / "-" (no peer access).
std::string link_label(const GpuLink& link);
// The matrix as nvidia-smi lays it out, one line per GPU, each line starting with `indent`:
//            GPU0  GPU1
//      GPU0     X  NV18
//      GPU1  NV18     X
std::string gpu_links_matrix(const GpuLinks& links, const std::string& indent);
// One line: "every pair over NVLink (NVSwitch)", "peer access between every pair", or the pairs
// without peer access.
std::string gpu_links_summary(const GpuLinks& links);
nlohmann::ordered_json gpu_links_json(const GpuLinks& links);

// The visible GPUs' links (CUDA builds only; gpu_links_cuda.cpp). Throws RuntimeFailure(CudaError)
// where CUDA cannot answer; a missing NVML is not an error (see `source`).
GpuLinks probe_gpu_links();

}  // namespace moebench
