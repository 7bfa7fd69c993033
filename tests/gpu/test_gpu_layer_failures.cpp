// An implementation that cannot run on this GPU fails its own cases, never the whole run: the
// layer runner prepares one implementation at a time and records a failure for each case an
// implementation did not run (deepseek-v3 --impl all on an 80 GB H100 once lost every
// implementation to fused's extra copy of w13). The fault hook stands in for that OOM.
#include <gtest/gtest.h>

#include <cstdlib>

#include "gpu_test_util.hpp"
#include "unit/cli_runner.hpp"

TEST(GpuLayerFailures, OneImplementationOutOfMemoryLeavesTheOthersMeasured) {
  REQUIRE_GPU();
  ::setenv("MOEBENCH_TEST_FAULT", "oom-in:fused", 1);
  moebench::testing::CliResult r = moebench::testing::run_moebench(
      "layer --backend cuda --no-record --model qwen3-30b-a3b --num-tokens 64 --scenarios random "
      "--impl naive,fused,grouped --benchmark-iters 2");
  ::unsetenv("MOEBENCH_TEST_FAULT");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("fused did not run 1 case(s): OOM"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find(" naive "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" grouped "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(" fused "), std::string::npos) << r.out;
}
