#pragma once
// A world of one rank on the CPU: every collective is this rank exchanging with itself (copies),
// with no server and no collective library, so that a single-rank run takes the multi-rank code
// path everywhere (the MoE implementations call the same dispatch/combine).
#include "dist/communicator.hpp"

namespace moebench {

class SelfCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const char* library() const override { return "self"; }
  void barrier() override {}
  void all_reduce_sum(float*, size_t) override {}
  void all_reduce_sum(double*, size_t) override {}
  void all_gather(const void* send, size_t bytes, void* recv) override;
  void all_to_all_v(const void* send, const ExchangeLayout& send_layout, void* recv,
                    const ExchangeLayout& recv_layout) override;
  void reduce_scatter_sum(const float* send, float* recv, size_t recv_count) override;
  void broadcast(void*, size_t, int root) override;
  std::vector<std::string> gather_to_root(const std::string& blob) override { return {blob}; }
  void synchronize() override {}
};

}  // namespace moebench
