#include "dist/communicator.hpp"

#include <numeric>

#include "dist/gloo_communicator.hpp"
#include "dist/rendezvous.hpp"
#include "dist/self_communicator.hpp"

namespace moebench {

size_t ExchangeLayout::total_bytes() const { return std::accumulate(bytes.begin(), bytes.end(), size_t(0)); }

bool ExchangeLayout::packed() const {
  if (offsets.size() != bytes.size()) return false;
  size_t at = 0;
  for (size_t p = 0; p < bytes.size(); ++p) {
    if (offsets[p] != at) return false;
    at += bytes[p];
  }
  return true;
}

ExchangeLayout packed_layout(std::vector<size_t> bytes) {
  ExchangeLayout layout;
  layout.offsets.resize(bytes.size());
  std::exclusive_scan(bytes.begin(), bytes.end(), layout.offsets.begin(), size_t(0));
  layout.bytes = std::move(bytes);
  return layout;
}

std::unique_ptr<Communicator> make_cpu_communicator(Rendezvous& rendezvous) {
  if (rendezvous.world_size() == 1) return std::make_unique<SelfCommunicator>();
  return make_gloo_communicator(rendezvous);
}

}  // namespace moebench
