#pragma once
// The collectives the MoE implementations and the benchmark call, one interface over the
// libraries that run them: Gloo between CPU ranks (dist/gloo_communicator.*), NCCL between GPUs
// (dist/nccl_communicator.hpp, CUDA builds), and a communicator of one rank that exchanges with
// itself (dist/self_communicator.*).
//
// Buffers live where the backend's buffers live: host memory on CPU ranks, this rank's GPU memory
// for NCCL. On CPU ranks every call is complete when it returns; NCCL calls are enqueued on the
// communicator's stream (synchronize() waits for them), except gather_to_root, which takes and
// returns host memory and waits. Every rank must make the same calls in the same order, with
// matching sizes: that is what the rendezvous's configuration check is for. A failure (a peer that
// died, a timeout) throws RuntimeFailure: Timeout, or NcclError (the collective library failed:
// NCCL, or Gloo on CPU ranks), or Crash.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace moebench {

class Rendezvous;

// Where each peer's bytes lie in an all-to-all buffer: peer p's are bytes[p] bytes at offsets[p].
struct ExchangeLayout {
  std::vector<size_t> bytes;
  std::vector<size_t> offsets;
  size_t total_bytes() const;  // sum of bytes
  bool packed() const;         // offsets are the running sums of bytes (peer after peer, no gaps)
};
// The layout of `bytes` laid peer after peer with no gaps.
ExchangeLayout packed_layout(std::vector<size_t> bytes);

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const char* library() const = 0;  // "gloo", "nccl", "self"

  virtual void barrier() = 0;
  // In place: every rank ends with the element-wise sum over ranks.
  virtual void all_reduce_sum(float* data, size_t count) = 0;
  virtual void all_reduce_sum(double* data, size_t count) = 0;
  // Rank r's `bytes` bytes land at recv + r * bytes on every rank (recv holds size() * bytes).
  virtual void all_gather(const void* send, size_t bytes, void* recv) = 0;
  // The MoE dispatch/combine exchange: what this rank sends to peer p (send_layout's entry p)
  // arrives at p in p's recv_layout entry for this rank. Counts may be zero, also for every peer.
  // The two layouts' byte counts must agree pairwise across ranks (send[p] here == recv[me] at p).
  virtual void all_to_all_v(const void* send, const ExchangeLayout& send_layout, void* recv,
                            const ExchangeLayout& recv_layout) = 0;
  // send holds size() * recv_count floats; rank r receives the sum over ranks of the r-th block.
  virtual void reduce_scatter_sum(const float* send, float* recv, size_t recv_count) = 0;
  // In place: root's `bytes` bytes to every rank.
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  // Results gathering (host memory, any sizes): rank 0 gets every rank's blob, by rank; the
  // others get an empty vector.
  virtual std::vector<std::string> gather_to_root(const std::string& blob) = 0;
  // Waits for the work enqueued so far (NCCL); nothing to wait for on CPU ranks.
  virtual void synchronize() = 0;
};

// CPU ranks: Gloo (the plugin, dist/gloo_communicator.hpp) connected through the rendezvous's
// store when the world has more than one rank, a communicator of one rank otherwise (no Gloo
// needed). The rendezvous must live until this returns.
std::unique_ptr<Communicator> make_cpu_communicator(Rendezvous& rendezvous);

}  // namespace moebench
