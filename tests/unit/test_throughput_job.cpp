// `moebench throughput` as a job, run in the test process without the binary: seed 004's example
// standing in when no throughput is given (and said on stderr), the defaults of --gpus and
// --compare-gpus, scaling alone, and the checks of flags that need each other.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/errors.hpp"
#include "report/throughput_job.hpp"

namespace moebench {
namespace {

struct Printed {
  nlohmann::json doc;
  std::string err;
};

Printed run_json(ThroughputJob job) {
  job.output_format = "json";
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run_throughput_job(job), 0);
  const std::string out = ::testing::internal::GetCapturedStdout();
  return {nlohmann::json::parse(out), ::testing::internal::GetCapturedStderr()};
}

TEST(ThroughputJob, NoThroughputGivenRunsTheSonicMoeExample) {
  const Printed p = run_json(ThroughputJob{});
  EXPECT_EQ(p.doc["baseline"]["tokens_per_sec"], 1240);
  EXPECT_EQ(p.doc["baseline"]["gpus"], kThroughputExampleGpus);
  EXPECT_EQ(p.doc["compare"]["tokens_per_sec"], 2305);
  EXPECT_EQ(p.doc["compare"]["gpus"], kThroughputExampleGpus);
  EXPECT_EQ(p.doc["target_tokens"], 100e9);
  EXPECT_EQ(p.doc["price_per_gpu_hour"], 2.5);
  EXPECT_NE(p.err.find("no --tokens-per-sec given: the SonicMoE training example"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("on 8 H100s"), std::string::npos) << p.err;
}

TEST(ThroughputJob, TheExampleKeepsGpusWhenGiven) {
  ThroughputJob job;
  job.gpus = 4;
  const Printed p = run_json(job);
  EXPECT_EQ(p.doc["baseline"]["gpus"], 4);
  EXPECT_NE(p.err.find("on 4 H100s"), std::string::npos) << p.err;
}

TEST(ThroughputJob, OneGpuAndNoCompareByDefault) {
  ThroughputJob job;
  job.tokens_per_sec = "2K";
  const Printed p = run_json(job);
  EXPECT_EQ(p.err, "");
  EXPECT_EQ(p.doc["baseline"]["tokens_per_sec"], 2000);
  EXPECT_EQ(p.doc["baseline"]["gpus"], 1);
  EXPECT_TRUE(p.doc["compare"].is_null());
}

TEST(ThroughputJob, CompareGpusDefaultToGpus) {
  ThroughputJob job;
  job.tokens_per_sec = "1000";
  job.gpus = 2;
  job.compare_tokens_per_sec = "1500";
  const Printed p = run_json(job);
  EXPECT_EQ(p.doc["compare"]["gpus"], 2);
}

TEST(ThroughputJob, ScalingAloneHasNoCosts) {
  ThroughputJob job;
  job.scaling = "1:1000,2:1900";
  const Printed p = run_json(job);
  EXPECT_EQ(p.err, "");
  EXPECT_TRUE(p.doc["baseline"].is_null());
  EXPECT_EQ(p.doc["scaling"].size(), 2u);
}

TEST(ThroughputJob, FlagsThatNeedEachOtherAreChecked) {
  ThroughputJob job;
  job.compare_tokens_per_sec = "2000";
  EXPECT_THROW(run_throughput_job(job), InputError);
  job = ThroughputJob{};
  job.tokens_per_sec = "1000";
  job.compare_gpus = 0;
  EXPECT_THROW(run_throughput_job(job), InputError);
  job = ThroughputJob{};
  job.output_format = "xml";
  EXPECT_THROW(run_throughput_job(job), InputError);
}

}  // namespace
}  // namespace moebench
