// `moebench sweep` as a job, run in the test process without the binary: the matrix from the
// axis flags with the CPU's defaults, the matrix from a file (its timeout replaced only by a
// given --timeout), a file given with axis flags refused, and a dry run that lists the configs
// and creates no store.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "bench/layer_defaults.hpp"
#include "core/errors.hpp"
#include "sweep/sweep_job.hpp"
#include "unit/job_fixture.hpp"

using moebench::testing::ScratchDir;

namespace moebench {
namespace {

std::string write_matrix(const ScratchDir& dir) {
  const std::string path = dir.file("m.yaml");
  std::ofstream(path) << "timeout_s: 30\nruns:\n  - models: [small]\n    num_tokens: [16, 32]\n";
  return path;
}

TEST(SweepJob, MatrixFromFlagsTakesTheBackendsDefaults) {
  const SweepMatrix m = sweep_job_matrix(SweepJob{}, BackendKind::cpu);
  EXPECT_EQ(m.source, "flags");
  EXPECT_EQ(m.timeout_s, 600);
  ASSERT_EQ(m.blocks.size(), 1u);
  EXPECT_EQ(m.blocks[0].models, (std::vector<std::string>{kLayerCpuDefaultModel}));
  EXPECT_EQ(m.blocks[0].num_tokens, kLayerCpuDefaultTokens);
}

TEST(SweepJob, MatrixFromFlagsKeepsWhatWasGiven) {
  SweepJob job;
  job.axes.models = {"tiny"};
  job.num_tokens = {16};
  job.timeout_s = 5;
  const SweepMatrix m = sweep_job_matrix(job, BackendKind::cpu);
  EXPECT_EQ(m.timeout_s, 5);
  EXPECT_EQ(m.blocks[0].models, (std::vector<std::string>{"tiny"}));
  EXPECT_EQ(m.blocks[0].num_tokens, (std::vector<int64_t>{16}));
}

TEST(SweepJob, MatrixFromAFileAndTheTimeoutOnlyWhenGiven) {
  ScratchDir dir("sweep-job");
  SweepJob job;
  job.matrix_file = write_matrix(dir);
  job.timeout_s = 7;  // the flag's default value, not given
  SweepMatrix m = sweep_job_matrix(job, BackendKind::cpu);
  EXPECT_EQ(m.source, job.matrix_file);
  EXPECT_EQ(m.timeout_s, 30);
  EXPECT_EQ(m.blocks[0].num_tokens, (std::vector<int64_t>{16, 32}));
  job.timeout_given = true;
  m = sweep_job_matrix(job, BackendKind::cpu);
  EXPECT_EQ(m.timeout_s, 7);
}

TEST(SweepJob, AFileWithAxisFlagsIsRefused) {
  ScratchDir dir("sweep-job");
  SweepJob job;
  job.matrix_file = write_matrix(dir);
  job.axis_flags_given = true;
  try {
    sweep_job_matrix(job, BackendKind::cpu);
    FAIL() << "a file with axis flags was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not both"), std::string::npos) << e.what();
  }
}

TEST(SweepJob, DryRunListsTheConfigsAndCreatesNoStore) {
  ScratchDir dir("sweep-job");
  SweepJob job;
  job.backend = "cpu";
  job.axes.models = {"tiny"};
  job.axes.impls = {"reference"};
  job.num_tokens = {16, 32};
  job.dry_run = true;
  job.results_db = dir.file("results.db");
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run_sweep_job(job, "moebench sweep --dry-run"), 0);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
  EXPECT_EQ(out.rfind("tiny::", 0), 0u) << out;
  EXPECT_NE(out.find("  moebench layer "), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(job.results_db));
}

TEST(SweepJob, BadBackendIsRefused) {
  SweepJob job;
  job.backend = "tpu";
  EXPECT_THROW(run_sweep_job(job, "moebench sweep"), InputError);
}

}  // namespace
}  // namespace moebench
