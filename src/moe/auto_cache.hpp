#pragma once
// The on-disk memory of `--impl auto`: which implementation was fastest, per GPU, layer shape
// and token-count bucket, so that a choice is measured once per machine, not once per run.
//
// One JSON file, $MOEBENCH_CACHE_DIR/auto-choices.json (default $XDG_CACHE_HOME/moebench, else
// ~/.cache/moebench), {"<key>": {"<bucket>": "<impl>", ...}, ...}. Written whole to a temporary
// file and renamed, so a reader never sees half a file; an unreadable file counts as empty and
// is replaced on the next write.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "moe/layer_spec.hpp"

namespace moebench {

class AutoChoiceCache {
 public:
  AutoChoiceCache();  // reads the file, if any
  static std::string path();
  // GPU name, layer shape, dtype and the moebench version (new kernels mean new measurements).
  static std::string key(const std::string& device_name, const LayerSpec& spec);

  std::optional<std::string> find(const std::string& key, int64_t bucket) const;
  void set(const std::string& key, int64_t bucket, const std::string& impl);
  // Writes the file; a failure to write is reported on stderr and otherwise ignored (the cache
  // saves time, it holds no result).
  void save() const;

 private:
  std::map<std::string, std::map<int64_t, std::string>> choices_;
};

}  // namespace moebench
