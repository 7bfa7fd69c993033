// `moebench info` as a job, run in the test process without the binary: the build, the host, the
// CPU backend with its implementations, the ceilings measured or skipped, the same figures as
// JSON (no GPU links or NCCL on the CPU), and an unknown backend or format refused.
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

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

TEST(InfoJob, JsonCarriesTheSameFigures) {
  InfoJob job;
  job.backend = "cpu";
  job.output_format = "json";
  const nlohmann::json j = nlohmann::json::parse(printed(job));
  EXPECT_EQ(j["backend"], "cpu");
  EXPECT_FALSE(j["moebench"]["version"].get<std::string>().empty());
  EXPECT_GT(j["cpu"]["threads"].get<int>(), 0);
  EXPECT_NE(std::find(j["impls"].begin(), j["impls"].end(), "reference"), j["impls"].end());
  EXPECT_GT(j["ceilings"]["copy_gbps"].get<double>(), 0);
  EXPECT_TRUE(j["ceilings"]["gemm_tflops"].is_null());
  EXPECT_EQ(j["ceilings"]["gemm_method"], "not measured on the CPU");
  // On the CPU backend: no GPU, so no links and no NCCL.
  EXPECT_TRUE(j["gpu"].is_null());
  EXPECT_TRUE(j["gpu_links"].is_null());
  EXPECT_TRUE(j["nccl"].is_null());

  job.skip_ceilings = true;
  EXPECT_TRUE(nlohmann::json::parse(printed(job))["ceilings"].is_null());
}

TEST(InfoJob, UnknownFormatIsRefusedBeforeAnythingRuns) {
  InfoJob job;
  job.backend = "cpu";
  job.output_format = "yaml";
  ::testing::internal::CaptureStdout();
  try {
    run_info_job(job);
    ADD_FAILURE() << "yaml accepted";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "--output-format: unknown format 'yaml': use table or json");
  }
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
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
