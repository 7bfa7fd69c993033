// `moebench info` as a job, run in the test process without the binary: the build, the host, the
// CPU backend with its implementations, the ceilings measured or skipped, and an unknown backend
// refused.
#include <gtest/gtest.h>

#include "bench/info_job.hpp"
#include "core/errors.hpp"

namespace moebench {
namespace {

std::string printed(const InfoJob& job) {
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run_info_job(job), 0);
  return ::testing::internal::GetCapturedStdout();
}

TEST(InfoJob, CpuBackendWithoutCeilings) {
  InfoJob job;
  job.backend = "cpu";
  job.skip_ceilings = true;
  const std::string out = printed(job);
  EXPECT_EQ(out.rfind("moebench ", 0), 0u) << out;
  EXPECT_NE(out.find("\nbuild       "), std::string::npos) << out;
  EXPECT_NE(out.find("\ncpu         "), std::string::npos) << out;
  EXPECT_NE(out.find("\ngpu         "), std::string::npos) << out;
  EXPECT_NE(out.find("\nbackend     cpu\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\nimpls       reference"), std::string::npos) << out;
  EXPECT_EQ(out.find("ceilings"), std::string::npos) << out;
}

TEST(InfoJob, CpuCeilingsAreTheHostCopyOnly) {
  InfoJob job;
  job.backend = "cpu";
  const std::string out = printed(job);
  EXPECT_NE(out.find("\nceilings    copy "), std::string::npos) << out;
  EXPECT_NE(out.find("(host memcpy, 256 MiB, all threads, median of 5)"), std::string::npos) << out;
  EXPECT_NE(out.find("bf16 GEMM: not measured on the CPU\n"), std::string::npos) << out;
}

TEST(InfoJob, UnknownBackendIsRefused) {
  InfoJob job;
  job.backend = "tpu";
  ::testing::internal::CaptureStdout();
  EXPECT_THROW(run_info_job(job), InputError);
  ::testing::internal::GetCapturedStdout();
}

}  // namespace
}  // namespace moebench
