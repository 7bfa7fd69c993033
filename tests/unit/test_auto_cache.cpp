// The on-disk cache of --impl auto: round trip, keys that separate GPUs and shapes, and a
// damaged file that is re-measured rather than trusted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "moe/auto_cache.hpp"

using moebench::AutoChoiceCache;
using moebench::LayerSpec;

namespace {

class AutoCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("moebench-auto-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    setenv("MOEBENCH_CACHE_DIR", dir_.c_str(), 1);
  }
  void TearDown() override {
    unsetenv("MOEBENCH_CACHE_DIR");
    std::filesystem::remove_all(dir_);
  }
  static LayerSpec spec(int experts) {
    LayerSpec s;
    s.model.num_experts = experts;
    s.model.top_k = 2;
    s.model.hidden_size = 256;
    s.model.moe_intermediate_size = 128;
    return s;
  }
  std::filesystem::path dir_;
};

TEST_F(AutoCacheTest, ChoicesSurviveAReload) {
  EXPECT_EQ(AutoChoiceCache::path(), (dir_ / "auto-choices.json").string());
  const std::string key = AutoChoiceCache::key("GPU A", spec(8));
  {
    AutoChoiceCache cache;
    EXPECT_FALSE(cache.find(key, 64).has_value());
    cache.set(key, 64, "grouped");
    cache.set(key, 4096, "naive");
    cache.save();
  }
  AutoChoiceCache again;
  ASSERT_TRUE(again.find(key, 64).has_value());
  EXPECT_EQ(*again.find(key, 64), "grouped");
  EXPECT_EQ(*again.find(key, 4096), "naive");
  EXPECT_FALSE(again.find(key, 128).has_value());
  // No temporary file is left beside the cache.
  int files = 0;
  for (auto& entry : std::filesystem::directory_iterator(dir_)) files += entry.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST_F(AutoCacheTest, KeysSeparateGpusShapesAndDtypes) {
  LayerSpec fp16 = spec(8);
  fp16.dtype = moebench::DType::fp16;
  const std::string a = AutoChoiceCache::key("GPU A", spec(8));
  EXPECT_NE(a, AutoChoiceCache::key("GPU B", spec(8)));
  EXPECT_NE(a, AutoChoiceCache::key("GPU A", spec(16)));
  EXPECT_NE(a, AutoChoiceCache::key("GPU A", fp16));
  EXPECT_EQ(a, AutoChoiceCache::key("GPU A", spec(8)));
}

TEST_F(AutoCacheTest, ADamagedFileIsIgnoredAndReplaced) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ / "auto-choices.json") << "{ not json";
  AutoChoiceCache cache;
  const std::string key = AutoChoiceCache::key("GPU A", spec(8));
  EXPECT_FALSE(cache.find(key, 1).has_value());
  cache.set(key, 1, "grouped");
  cache.save();
  EXPECT_EQ(*AutoChoiceCache().find(key, 1), "grouped");
}

}  // namespace
