// NcclWindows (nccl_windows.hpp): symmetric windows and the device communicator of NCCL's
// device API, made and released collectively.
#include "dist/nccl_windows.hpp"

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace {

void check(ncclResult_t result, const char* call, int rank, ncclComm_t comm) {
  if (result == ncclSuccess) return;
  const char* detail = ncclGetLastError(comm);
  throw RuntimeFailure(FailureKind::NcclError, fmt::format("rank {}: {} failed: {}{}{}", rank, call,
                                                           ncclGetErrorString(result), detail && *detail ? ": " : "",
                                                           detail ? detail : ""));
}

}  // namespace

NcclWindows::NcclWindows(Communicator& comm, const std::vector<size_t>& bytes, int barriers) : barriers_(barriers) {
  comm_ = nccl_comm_of(comm);
  if (!comm_) throw InputError("the device-API exchange needs NCCL ranks (GPU ranks, --backend cuda)");
  const int rank = comm.rank();
  try {
    for (size_t size : bytes) {
      // At least one page each: a window of zero bytes cannot be registered.
      const size_t rounded = std::max<size_t>(size, NCCL_WIN_REQUIRED_ALIGNMENT);
      void* buffer = nullptr;
      check(ncclMemAlloc(&buffer, rounded), "ncclMemAlloc", rank, comm_);
      buffers_.push_back(buffer);
      ncclWindow_t window = nullptr;
      check(ncclCommWindowRegister(comm_, buffer, rounded, &window, NCCL_WIN_COLL_SYMMETRIC), "ncclCommWindowRegister",
            rank, comm_);
      windows_.push_back(window);
    }
    ncclDevCommRequirements reqs{};
    reqs.lsaBarrierCount = barriers;  // no multimem: NVLink multicast stays off
    check(ncclDevCommCreate(comm_, &reqs, &dev_comm_), "ncclDevCommCreate", rank, comm_);
    dev_comm_made_ = true;
    if (dev_comm_.lsaSize != dev_comm_.nRanks)
      throw InputError(fmt::format("fused-ep reaches its peers by load/store, but only {} of the {} ranks share this "
                                   "rank's NVLink/P2P domain: run --impl ep across nodes",
                                   dev_comm_.lsaSize, dev_comm_.nRanks));
  } catch (...) {
    release();
    throw;
  }
}

NcclWindows::~NcclWindows() { release(); }

void NcclWindows::release() {
  if (dev_comm_made_) ncclDevCommDestroy(comm_, &dev_comm_);
  dev_comm_made_ = false;
  for (ncclWindow_t w : windows_) ncclCommWindowDeregister(comm_, w);
  windows_.clear();
  for (void* b : buffers_) ncclMemFree(b);
  buffers_.clear();
}

}  // namespace moebench
