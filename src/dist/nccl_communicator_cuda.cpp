#include "dist/nccl_communicator.hpp"
#include "dist/nccl_windows.hpp"

#include <nccl.h>
#include <stdlib.h>

#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "backend/cuda_check.hpp"
#include "core/errors.hpp"

namespace moebench {

namespace {

[[noreturn]] void throw_nccl(ncclResult_t result, const char* call, int rank, ncclComm_t comm) {
  const char* detail = ncclGetLastError(comm);
  throw RuntimeFailure(FailureKind::NcclError, fmt::format("rank {}: {} failed: {}{}{}", rank, call,
                                                           ncclGetErrorString(result), detail && *detail ? ": " : "",
                                                           detail ? detail : ""));
}

#define MB_NCCL_CHECK(call)                                              \
  do {                                                                   \
    const ncclResult_t mb_nccl_ = (call);                                \
    if (mb_nccl_ != ncclSuccess) throw_nccl(mb_nccl_, #call, rank_, comm_); \
  } while (0)

// GPU memory for the staging that gather_to_root needs, freed on every path.
class Scratch {
 public:
  explicit Scratch(size_t bytes) {
    if (bytes) MB_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
  }
  ~Scratch() {
    if (ptr_) cudaFree(ptr_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  char* get() const { return static_cast<char*>(ptr_); }

 private:
  void* ptr_ = nullptr;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(int rank, int size, const std::string& unique_id, int device, cudaStream_t stream, double timeout_s)
      : rank_(rank), size_(size), stream_(stream), timeout_s_(timeout_s) {
    ncclUniqueId id;
    if (unique_id.size() != sizeof id.internal)
      throw RuntimeFailure(FailureKind::NcclError,
                           fmt::format("rank {}: the rendezvous handed out {} bytes, not an NCCL unique id ({} bytes): "
                                       "rank 0 must pass nccl_unique_id() as its shared blob",
                                       rank, unique_id.size(), sizeof id.internal));
    std::memcpy(id.internal, unique_id.data(), sizeof id.internal);
    setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/0);  // NVLink multicast stays off
    MB_CUDA_CHECK(cudaSetDevice(device));
    MB_NCCL_CHECK(ncclCommInitRank(&comm_, size, id, rank));
  }
  ~NcclCommunicator() override {
    if (comm_) ncclCommDestroy(comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* library() const override { return "nccl"; }
  ncclComm_t nccl() const { return comm_; }

  void barrier() override {
    Scratch one(sizeof(float));
    MB_CUDA_CHECK(cudaMemsetAsync(one.get(), 0, sizeof(float), stream_));
    MB_NCCL_CHECK(ncclAllReduce(one.get(), one.get(), 1, ncclFloat, ncclSum, comm_, stream_));
    synchronize();
  }
  void all_reduce_sum(float* data, size_t count) override {
    MB_NCCL_CHECK(ncclAllReduce(data, data, count, ncclFloat, ncclSum, comm_, stream_));
  }
  void all_reduce_sum(double* data, size_t count) override {
    MB_NCCL_CHECK(ncclAllReduce(data, data, count, ncclDouble, ncclSum, comm_, stream_));
  }
  void all_gather(const void* send, size_t bytes, void* recv) override {
    MB_NCCL_CHECK(ncclAllGather(send, recv, bytes, ncclUint8, comm_, stream_));
  }
  void all_to_all_v(const void* send, const ExchangeLayout& send_layout, void* recv,
                    const ExchangeLayout& recv_layout) override {
    if (send_layout.bytes.size() != size_t(size_) || send_layout.offsets.size() != size_t(size_) ||
        recv_layout.bytes.size() != size_t(size_) || recv_layout.offsets.size() != size_t(size_))
      throw RuntimeFailure(FailureKind::InvalidConfig,
                           fmt::format("rank {}: all_to_all_v's layouts must have one count and offset per rank ({})",
                                       rank_, size_));
    MB_NCCL_CHECK(ncclGroupStart());
    for (int p = 0; p < size_; ++p) {
      const size_t out = send_layout.bytes[size_t(p)], in = recv_layout.bytes[size_t(p)];
      if (out) MB_NCCL_CHECK(ncclSend(static_cast<const char*>(send) + send_layout.offsets[size_t(p)], out, ncclUint8, p, comm_, stream_));
      if (in) MB_NCCL_CHECK(ncclRecv(static_cast<char*>(recv) + recv_layout.offsets[size_t(p)], in, ncclUint8, p, comm_, stream_));
    }
    MB_NCCL_CHECK(ncclGroupEnd());
  }
  void reduce_scatter_sum(const float* send, float* recv, size_t recv_count) override {
    MB_NCCL_CHECK(ncclReduceScatter(send, recv, recv_count, ncclFloat, ncclSum, comm_, stream_));
  }
  void broadcast(void* data, size_t bytes, int root) override {
    MB_NCCL_CHECK(ncclBroadcast(data, data, bytes, ncclUint8, root, comm_, stream_));
  }

  // Through GPU memory: every rank's size (an all-gather), then one send per rank to rank 0.
  std::vector<std::string> gather_to_root(const std::string& blob) override {
    std::vector<uint64_t> sizes(static_cast<size_t>(size_));
    sizes[size_t(rank_)] = blob.size();
    Scratch sizes_dev(sizes.size() * sizeof(uint64_t));
    char* mine = sizes_dev.get() + size_t(rank_) * sizeof(uint64_t);
    MB_CUDA_CHECK(cudaMemcpyAsync(mine, &sizes[size_t(rank_)], sizeof(uint64_t), cudaMemcpyHostToDevice, stream_));
    MB_NCCL_CHECK(ncclAllGather(mine, sizes_dev.get(), sizeof(uint64_t), ncclUint8, comm_, stream_));
    MB_CUDA_CHECK(cudaMemcpyAsync(sizes.data(), sizes_dev.get(), sizes.size() * sizeof(uint64_t), cudaMemcpyDeviceToHost, stream_));
    synchronize();

    std::vector<size_t> offsets(sizes.size() + 1, 0);
    for (size_t r = 0; r < sizes.size(); ++r) offsets[r + 1] = offsets[r] + size_t(sizes[r]);
    Scratch send(blob.size());
    Scratch all(rank_ == 0 ? offsets.back() : 0);
    if (!blob.empty()) MB_CUDA_CHECK(cudaMemcpyAsync(send.get(), blob.data(), blob.size(), cudaMemcpyHostToDevice, stream_));
    MB_NCCL_CHECK(ncclGroupStart());
    if (!blob.empty()) MB_NCCL_CHECK(ncclSend(send.get(), blob.size(), ncclUint8, 0, comm_, stream_));
    if (rank_ == 0)
      for (int r = 0; r < size_; ++r)
        if (sizes[size_t(r)]) MB_NCCL_CHECK(ncclRecv(all.get() + offsets[size_t(r)], sizes[size_t(r)], ncclUint8, r, comm_, stream_));
    MB_NCCL_CHECK(ncclGroupEnd());
    std::string host(rank_ == 0 ? offsets.back() : 0, '\0');
    if (!host.empty()) MB_CUDA_CHECK(cudaMemcpyAsync(host.data(), all.get(), host.size(), cudaMemcpyDeviceToHost, stream_));
    synchronize();
    std::vector<std::string> blobs;
    if (rank_ == 0)
      for (int r = 0; r < size_; ++r) blobs.push_back(host.substr(offsets[size_t(r)], sizes[size_t(r)]));
    return blobs;
  }

  // Waits for the stream while watching NCCL for an asynchronous error (a peer gone): on one, or
  // at the timeout, the communicator is aborted so that nothing stays blocked on it.
  void synchronize() override {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s_);
    while (true) {
      const cudaError_t state = cudaStreamQuery(stream_);
      if (state == cudaSuccess) return;
      if (state != cudaErrorNotReady) MB_CUDA_CHECK(state);
      ncclResult_t async = ncclSuccess;
      MB_NCCL_CHECK(ncclCommGetAsyncError(comm_, &async));
      if (async != ncclSuccess) {
        const std::string detail = fmt::format("rank {}: NCCL failed while running: {}", rank_, ncclGetErrorString(async));
        abort_comm();
        throw RuntimeFailure(FailureKind::NcclError, detail);
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        abort_comm();
        throw RuntimeFailure(FailureKind::Timeout,
                             fmt::format("rank {}: NCCL work did not complete within {:g} s (did a rank fail?)", rank_,
                                         timeout_s_));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

 private:
  void abort_comm() {
    ncclCommAbort(comm_);
    comm_ = nullptr;
  }

  int rank_, size_;
  cudaStream_t stream_;
  double timeout_s_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::string nccl_unique_id() {
  ncclUniqueId id;
  const ncclResult_t result = ncclGetUniqueId(&id);
  if (result != ncclSuccess)
    throw RuntimeFailure(FailureKind::NcclError, fmt::format("ncclGetUniqueId failed: {}", ncclGetErrorString(result)));
  return std::string(id.internal, sizeof id.internal);
}

ncclComm_t nccl_comm_of(Communicator& comm) {
  const auto* nccl = dynamic_cast<const NcclCommunicator*>(&comm);
  return nccl ? nccl->nccl() : nullptr;
}

std::unique_ptr<Communicator> make_nccl_communicator(const Rendezvous& rendezvous, int device, cudaStream_t stream) {
  return std::make_unique<NcclCommunicator>(rendezvous.rank(), rendezvous.world_size(), rendezvous.shared_blob(), device,
                                            stream, rendezvous.timeout_s());
}

}  // namespace moebench
