#pragma once
// NCCL symmetric memory for kernels that write straight into peers' buffers (NCCL 2.28's device
// API; CUDA builds only: dist/nccl_windows_cuda.cpp). Every rank allocates the same buffers
// with ncclMemAlloc and registers them together as symmetric windows (NCCL_WIN_COLL_SYMMETRIC),
// so that a kernel reaches peer p's copy of window w at ncclGetLsaPointer(w, offset, p); and a
// device communicator (ncclDevCommCreate) carries the LSA barriers the kernels synchronise
// with, one per CTA. Load/store over NVLink or PCIe P2P, between the ranks of one LSA team (one
// node's GPUs); no NVLink multicast (NVLS) object is made or asked for.
#include <nccl.h>
#include <nccl_device.h>

#include <cstddef>
#include <vector>

#include "dist/communicator.hpp"

namespace moebench {

class NcclWindows {
 public:
  // Collective: every rank of `comm` (an NCCL communicator) calls it at the same point with the
  // same sizes. `barriers`: LSA barriers, one per CTA of the widest kernel that syncs. Throws
  // InputError when comm is not NCCL or its ranks are not all load/store reachable (the kernels
  // reach every peer by load/store; across nodes the NCCL send/recv `ep` runs instead), and
  // RuntimeFailure(NcclError) when NCCL refuses.
  NcclWindows(Communicator& comm, const std::vector<size_t>& bytes, int barriers);
  ~NcclWindows();
  NcclWindows(const NcclWindows&) = delete;
  NcclWindows& operator=(const NcclWindows&) = delete;

  ncclWindow_t window(size_t i) const { return windows_[i]; }
  void* local(size_t i) const { return buffers_[i]; }
  const ncclDevComm& device_comm() const { return dev_comm_; }
  int barriers() const { return barriers_; }

 private:
  void release();

  ncclComm_t comm_ = nullptr;
  std::vector<void*> buffers_;
  std::vector<ncclWindow_t> windows_;
  ncclDevComm dev_comm_{};
  bool dev_comm_made_ = false;
  int barriers_ = 0;
};

// The NCCL communicator under `comm` (made by make_nccl_communicator), or null for any other.
ncclComm_t nccl_comm_of(Communicator& comm);

}  // namespace moebench
