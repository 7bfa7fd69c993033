// The visible GPUs' links from NVML and CUDA (gpu_links.hpp says what and why).
//
// NVML is opened with dlopen and the few calls it needs are declared here, as NCCL does
// (src/include/nvmlwrap.h): the toolkit ships no nvml.h, and the library belongs to the driver.
// Only what these calls' ABI guarantees is read: nvmlPciInfo_t's domain, bus and device follow a
// 16-byte legacy bus id in every version of the struct, and the buffer handed over is the size of
// the largest (v3).
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include "backend/cuda_check.hpp"
#include "dist/gpu_links.hpp"

namespace moebench {

namespace {

// From nvml.h (the values are part of NVML's ABI).
using NvmlReturn = int;
constexpr NvmlReturn kNvmlSuccess = 0;
using NvmlDevice = struct NvmlDeviceOpaque*;
struct NvmlPciInfo {  // nvmlPciInfo_t (v3)
  char bus_id_legacy[16];
  unsigned int domain, bus, device, pci_device_id, pci_subsystem_id;
  char bus_id[32];
};
constexpr unsigned kNvmlFeatureEnabled = 1;        // NVML_FEATURE_ENABLED
constexpr unsigned kNvlinkRemoteGpu = 0;           // NVML_NVLINK_DEVICE_TYPE_GPU
constexpr unsigned kNvlinkRemoteSwitch = 2;        // NVML_NVLINK_DEVICE_TYPE_SWITCH
constexpr unsigned kNvmlMaxLinks = 18;             // NVML_NVLINK_MAX_LINKS (Hopper and Blackwell)

// The PCIe path names nvidia-smi topo -m gives nvmlGpuTopologyLevel_t's levels.
const char* pcie_path(int level) {
  switch (level) {
    case 0:   // NVML_TOPOLOGY_INTERNAL: two GPUs of one board
    case 10: return "PIX";   // NVML_TOPOLOGY_SINGLE: one PCIe bridge
    case 20: return "PXB";   // NVML_TOPOLOGY_MULTIPLE: several bridges, no host bridge
    case 30: return "PHB";   // NVML_TOPOLOGY_HOSTBRIDGE
    case 40: return "NODE";  // NVML_TOPOLOGY_NODE: host bridges of one NUMA node
    case 50: return "SYS";   // NVML_TOPOLOGY_SYSTEM: across NUMA nodes
    default: return "";
  }
}

class Nvml {
 public:
  Nvml() {
    lib_ = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib_) {
      why_ = fmt::format("NVML not found ({}): link kinds unknown", dlerror());
      return;
    }
    if (!bind(init_, "nvmlInit_v2") || !bind(shutdown_, "nvmlShutdown") ||
        !bind(by_bus_id_, "nvmlDeviceGetHandleByPciBusId_v2") || !bind(link_state_, "nvmlDeviceGetNvLinkState") ||
        !bind(remote_pci_, "nvmlDeviceGetNvLinkRemotePciInfo_v2") ||
        !bind(remote_type_, "nvmlDeviceGetNvLinkRemoteDeviceType") ||
        !bind(ancestor_, "nvmlDeviceGetTopologyCommonAncestor"))
      return;
    if (const NvmlReturn r = init_(); r != kNvmlSuccess) {
      why_ = fmt::format("nvmlInit failed (NVML error {}): link kinds unknown", r);
      return;
    }
    ready_ = true;
  }
  ~Nvml() {
    if (ready_) shutdown_();
    if (lib_) dlclose(lib_);
  }
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  bool ready() const { return ready_; }
  const std::string& why() const { return why_; }

  NvmlDevice device(const std::string& bus_id) const {
    NvmlDevice d = nullptr;
    return by_bus_id_(bus_id.c_str(), &d) == kNvmlSuccess ? d : nullptr;
  }
  bool link_active(NvmlDevice d, unsigned link) const {
    unsigned state = 0;
    return link_state_(d, link, &state) == kNvmlSuccess && state == kNvmlFeatureEnabled;
  }
  // What an active link reaches: its type (GPU, switch, ...) and, for a GPU, its PCI address.
  bool remote(NvmlDevice d, unsigned link, unsigned& type, std::tuple<unsigned, unsigned, unsigned>& pci) const {
    if (remote_type_(d, link, &type) != kNvmlSuccess) return false;
    if (type != kNvlinkRemoteGpu) return true;
    NvmlPciInfo info{};
    if (remote_pci_(d, link, &info) != kNvmlSuccess) return false;
    pci = {info.domain, info.bus, info.device};
    return true;
  }
  std::string path(NvmlDevice a, NvmlDevice b) const {
    int level = -1;
    return ancestor_(a, b, &level) == kNvmlSuccess ? pcie_path(level) : "";
  }

 private:
  template <typename Fn>
  bool bind(Fn& fn, const char* name) {
    fn = reinterpret_cast<Fn>(dlsym(lib_, name));
    if (!fn) why_ = fmt::format("NVML has no {}: link kinds unknown", name);
    return fn != nullptr;
  }

  void* lib_ = nullptr;
  bool ready_ = false;
  std::string why_;
  NvmlReturn (*init_)() = nullptr;
  NvmlReturn (*shutdown_)() = nullptr;
  NvmlReturn (*by_bus_id_)(const char*, NvmlDevice*) = nullptr;
  NvmlReturn (*link_state_)(NvmlDevice, unsigned, unsigned*) = nullptr;
  NvmlReturn (*remote_pci_)(NvmlDevice, unsigned, NvmlPciInfo*) = nullptr;
  NvmlReturn (*remote_type_)(NvmlDevice, unsigned, unsigned*) = nullptr;
  NvmlReturn (*ancestor_)(NvmlDevice, NvmlDevice, int*) = nullptr;
};

}  // namespace

GpuLinks probe_gpu_links() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0;
  cudaGetLastError();  // no GPU is an answer here, not an error left for the next call
  GpuLinks g;
  g.links.assign(size_t(n), std::vector<GpuLink>(size_t(n)));
  std::vector<std::tuple<unsigned, unsigned, unsigned>> pci(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    char bus_id[32] = {};
    MB_CUDA_CHECK(cudaDeviceGetPCIBusId(bus_id, sizeof bus_id, i));
    g.bus_ids.emplace_back(bus_id);
    int domain = 0, bus = 0, device = 0;
    MB_CUDA_CHECK(cudaDeviceGetAttribute(&domain, cudaDevAttrPciDomainId, i));
    MB_CUDA_CHECK(cudaDeviceGetAttribute(&bus, cudaDevAttrPciBusId, i));
    MB_CUDA_CHECK(cudaDeviceGetAttribute(&device, cudaDevAttrPciDeviceId, i));
    pci[size_t(i)] = {unsigned(domain), unsigned(bus), unsigned(device)};
    for (int j = 0; j < n; ++j) {
      GpuLink& l = g.links[size_t(i)][size_t(j)];
      if (i == j) {
        l.kind = LinkKind::self;
        l.p2p = true;
        continue;
      }
      int access = 0;
      MB_CUDA_CHECK(cudaDeviceCanAccessPeer(&access, i, j));
      l.p2p = access != 0;
    }
  }

  const Nvml nvml;
  if (!nvml.ready()) {
    g.source = "CUDA peer access; " + nvml.why();
    return g;
  }
  std::vector<NvmlDevice> dev;
  for (const std::string& bus_id : g.bus_ids) {
    dev.push_back(nvml.device(bus_id));
    if (!dev.back()) {
      g.source = fmt::format("CUDA peer access; NVML does not know GPU {} ({}): link kinds unknown", dev.size() - 1,
                             bus_id);
      return g;
    }
  }
  g.source = "NVML (NVLink state, remote ends, PCIe common ancestor) and CUDA peer access";
  std::vector<std::vector<int>> direct(size_t(n), std::vector<int>(size_t(n), 0));
  std::vector<int> to_switch(static_cast<size_t>(n), 0);
  for (int i = 0; i < n; ++i)
    for (unsigned link = 0; link < kNvmlMaxLinks; ++link) {
      if (!nvml.link_active(dev[size_t(i)], link)) continue;
      unsigned type = 0;
      std::tuple<unsigned, unsigned, unsigned> remote_pci;
      if (!nvml.remote(dev[size_t(i)], link, type, remote_pci)) continue;
      if (type == kNvlinkRemoteSwitch) ++to_switch[size_t(i)];
      if (type != kNvlinkRemoteGpu) continue;
      const auto peer = std::find(pci.begin(), pci.end(), remote_pci);
      if (peer != pci.end() && peer - pci.begin() != i) ++direct[size_t(i)][size_t(peer - pci.begin())];
    }
  for (int i = 0; i < n; ++i) {
    g.nvswitch = g.nvswitch || to_switch[size_t(i)] > 0;
    for (int j = 0; j < n; ++j) {
      if (i == j) continue;
      GpuLink& l = g.links[size_t(i)][size_t(j)];
      l.nvlinks = direct[size_t(i)][size_t(j)] + std::min(to_switch[size_t(i)], to_switch[size_t(j)]);
      if (l.nvlinks > 0) {
        l.kind = LinkKind::nvlink;
      } else {
        l.kind = LinkKind::pcie;
        l.path = nvml.path(dev[size_t(i)], dev[size_t(j)]);
      }
    }
  }
  return g;
}

}  // namespace moebench
