// Sliding-window models (gpt-oss's layer_types) on the GPU: the attention kernels do not
// restrict keys to the window yet, so `model` refuses such a model up front (exit 2, naming the
// field) rather than running full attention without a word. The CPU backend runs it windowed.
#include <gtest/gtest.h>

#include "gpu_test_util.hpp"
#include "unit/cli_runner.hpp"

TEST(GpuSlidingWindow, ModelRefusesSlidingLayersNamingTheField) {
  REQUIRE_GPU();
  moebench::testing::CliResult r = moebench::testing::run_moebench(
      "model --backend cuda --quiet --no-record --model gpt-oss-120b --num-layers 2 --batch-size 1 --input-len 16 "
      "--output-len 2");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("sliding_window / layer_types"), std::string::npos) << r.err;
  EXPECT_EQ(r.stderr_lines(), 1) << r.err;
}
