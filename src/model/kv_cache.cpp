// KvCache (kv_cache.hpp): a batch's K and V per layer, zeroed.
#include "model/kv_cache.hpp"

namespace moebench {

KvCache::KvCache(Backend& backend, const DecoderConfig& config, int64_t batch, int64_t max_context)
    : KvCache(backend, config, decoder_shard(config, 1, 0), batch, max_context) {}

KvCache::KvCache(Backend& backend, const DecoderConfig& config, const DecoderShard& shard, int64_t batch,
                 int64_t max_context)
    : batch_(batch), max_context_(max_context), kv_width_(shard.kv_width()) {
  const size_t bytes = size_t(batch * max_context * kv_width_) * size_t(dtype_bytes(config.dtype));
  // Zeroed: positions not yet written hold finite values for any step that reads ahead of them.
  for (int l = 0; l < config.model.num_layers; ++l) {
    k_.emplace_back(backend, bytes);
    v_.emplace_back(backend, bytes);
    backend.fill_bytes(k_.back().get(), 0, bytes);
    backend.fill_bytes(v_.back().get(), 0, bytes);
  }
}

int64_t KvCache::bytes() const {
  int64_t total = 0;
  for (size_t l = 0; l < k_.size(); ++l) total += int64_t(k_[l].bytes() + v_[l].bytes());
  return total;
}

}  // namespace moebench
