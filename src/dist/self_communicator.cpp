#include "dist/self_communicator.hpp"

#include <cstring>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

void SelfCommunicator::all_gather(const void* send, size_t bytes, void* recv) {
  if (bytes && send != recv) std::memmove(recv, send, bytes);
}

void SelfCommunicator::all_to_all_v(const void* send, const ExchangeLayout& send_layout, void* recv,
                                    const ExchangeLayout& recv_layout) {
  if (send_layout.bytes.size() != 1 || recv_layout.bytes.size() != 1 || send_layout.bytes[0] != recv_layout.bytes[0])
    throw RuntimeFailure(FailureKind::InvalidConfig,
                         fmt::format("all_to_all_v on one rank: sends {} byte(s) to itself but receives {}",
                                     send_layout.bytes.empty() ? 0 : send_layout.bytes[0],
                                     recv_layout.bytes.empty() ? 0 : recv_layout.bytes[0]));
  if (send_layout.bytes[0])
    std::memmove(static_cast<char*>(recv) + recv_layout.offsets[0],
                 static_cast<const char*>(send) + send_layout.offsets[0], send_layout.bytes[0]);
}

void SelfCommunicator::reduce_scatter_sum(const float* send, float* recv, size_t recv_count) {
  if (recv_count && send != recv) std::memmove(recv, send, recv_count * sizeof(float));
}

void SelfCommunicator::broadcast(void*, size_t, int root) {
  if (root != 0) throw RuntimeFailure(FailureKind::InvalidConfig, fmt::format("broadcast from rank {} in a world of one", root));
}

}  // namespace moebench
