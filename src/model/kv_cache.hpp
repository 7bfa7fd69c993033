#pragma once
// The KV cache of a batch: per layer, K and V of [batch][max_context][kv_heads][head_dim] in
// the model dtype (attention.cuh's layout), allocated once for the batch's whole context. A rank
// of a tensor-parallel run keeps its shard's KV heads (model/decoder_shard.hpp).
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"
#include "model/decoder_config.hpp"
#include "model/decoder_shard.hpp"

namespace moebench {

class KvCache {
 public:
  KvCache(Backend& backend, const DecoderConfig& config, int64_t batch, int64_t max_context);
  KvCache(Backend& backend, const DecoderConfig& config, const DecoderShard& shard, int64_t batch,
          int64_t max_context);
  int64_t batch() const { return batch_; }
  int64_t max_context() const { return max_context_; }
  // Elements one sequence occupies in one layer's K (or V).
  int64_t sequence_elements() const { return max_context_ * kv_width_; }
  void* k(int layer) const { return k_[size_t(layer)].get(); }
  void* v(int layer) const { return v_[size_t(layer)].get(); }
  int64_t bytes() const;

 private:
  int64_t batch_, max_context_, kv_width_;
  std::vector<DeviceBuffer> k_, v_;
};

}  // namespace moebench
