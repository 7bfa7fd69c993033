// `moebench layer` as a job, run in the test process on the CPU backend without the binary:
// the defaults the job picks, bad input refused before a store exists, a run's files and
// records, the failures recorded when the run fails, and the exit code of failed verification.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "bench/layer_job.hpp"
#include "core/errors.hpp"
#include "unit/job_fixture.hpp"

namespace fs = std::filesystem;
using moebench::testing::ScratchDir;
using moebench::testing::stored_records;
using moebench::testing::TestFault;

namespace moebench {
namespace {

// A CPU job that runs in well under a second: one implementation, one scenario, one token count.
LayerJob tiny_job(const ScratchDir& dir) {
  LayerJob job;
  job.backend = "cpu";
  job.model.manual = true;
  job.model.num_experts = 8;
  job.model.top_k = 2;
  job.model.hidden_size = 64;
  job.model.intermediate_size = 96;
  job.num_tokens = {16};
  job.scenarios = {"random"};
  job.impls = {"reference"};
  job.benchmark_iters = 2;
  job.quiet = true;
  job.record.results_db = dir.file("results.db");
  return job;
}

TEST(LayerJob, DefaultsFollowTheBackend) {
  const LayerRunOptions cpu = layer_run_options(LayerJob{}, BackendKind::cpu);
  EXPECT_EQ(cpu.model.name, "small");
  EXPECT_EQ(cpu.num_tokens, (std::vector<int64_t>{32, 128}));
  EXPECT_EQ(cpu.scenarios, (std::vector<Scenario>{Scenario::random, Scenario::balanced, Scenario::imbalanced}));
  EXPECT_EQ(cpu.impls, std::vector<std::string>{"all"});
  EXPECT_EQ(cpu.dtype, DType::bf16);
  EXPECT_TRUE(cpu.verify);
  EXPECT_EQ(cpu.benchmark_iters, 10);

  const LayerRunOptions gpu = layer_run_options(LayerJob{}, BackendKind::cuda);
  EXPECT_EQ(gpu.model.name, "qwen3-30b-a3b");
  EXPECT_EQ(gpu.num_tokens, (std::vector<int64_t>{64, 512, 4096}));

  LayerJob given;
  given.model.model = "tiny";
  given.num_tokens = {8};
  given.no_verify = true;
  const LayerRunOptions run = layer_run_options(given, BackendKind::cpu);
  EXPECT_EQ(run.model.name, "tiny");
  EXPECT_EQ(run.num_tokens, std::vector<int64_t>{8});
  EXPECT_FALSE(run.verify);
}

TEST(LayerJob, RoutedOnlyLeavesTheSharedExpertsOut) {
  ScratchDir dir("layer-job-routed");
  LayerJob job = tiny_job(dir);
  job.model.num_shared_experts = 1;
  EXPECT_EQ(layer_run_options(job, BackendKind::cpu).model.num_shared_experts, 1);
  job.routed_only = true;
  const LayerRunOptions run = layer_run_options(job, BackendKind::cpu);
  EXPECT_EQ(run.model.num_shared_experts, 0);
  EXPECT_EQ(run.model.shared_intermediate_size, 0);
  EXPECT_NE(run.model.name.find(" (routed experts only)"), std::string::npos) << run.model.name;
}

TEST(LayerJob, BadInputIsRefusedBeforeTheStoreExists) {
  ScratchDir dir("layer-job-bad");
  const std::string db = dir.file("results.db");
  auto expect_refused = [&](const LayerJob& job, const std::string& message_part) {
    try {
      run_layer_job(job, "moebench layer");
      ADD_FAILURE() << "no InputError for " << message_part;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(message_part), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(db)) << message_part;
  };
  LayerJob job = tiny_job(dir);
  job.nnodes = 2;
  expect_refused(job, "--nnodes");
  job = tiny_job(dir);
  job.scenarios = {"nope"};
  expect_refused(job, "--scenarios: unknown scenario 'nope'");
  job = tiny_job(dir);
  job.impls = {"nope"};
  expect_refused(job, "--impl: unknown implementation 'nope'");
  job = tiny_job(dir);
  job.output_format = "xml";
  expect_refused(job, "--output-format");
  // About 1.6 TB of expert weights: refused by the fit check, before anything is allocated.
  job = tiny_job(dir);
  job.model.num_experts = 1024;
  job.model.hidden_size = 16384;
  job.model.intermediate_size = 16384;
  expect_refused(job, "does not fit");
}

TEST(LayerJob, RunWritesItsTableFilesAndRecords) {
  ScratchDir dir("layer-job-run");
  LayerJob job = tiny_job(dir);
  job.output_format = "all";
  job.output_file = dir.file("tiny");
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code = run_layer_job(job, "moebench layer --test");
  const std::string out = ::testing::internal::GetCapturedStdout();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 0) << err;
  EXPECT_NE(out.find("reference"), std::string::npos) << out;
  for (const char* ext : {".csv", ".md", ".json"}) {
    EXPECT_TRUE(fs::exists(dir.file(std::string("tiny") + ext))) << ext;
    EXPECT_NE(err.find("wrote " + dir.file(std::string("tiny") + ext)), std::string::npos) << err;
  }
  const std::vector<RunRecord> records = stored_records(job.record.results_db);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].kind, "layer");
  EXPECT_EQ(records[0].status, RunStatus::success);
  EXPECT_EQ(records[0].command_line, "moebench layer --test");
}

TEST(LayerJob, NoRecordOpensNoStore) {
  ScratchDir dir("layer-job-no-record");
  LayerJob job = tiny_job(dir);
  job.record.no_record = true;
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run_layer_job(job, "moebench layer"), 0);
  ::testing::internal::GetCapturedStdout();
  EXPECT_FALSE(fs::exists(job.record.results_db));
}

TEST(LayerJob, RuntimeFailureRecordsEveryPlannedRow) {
  ScratchDir dir("layer-job-fault");
  LayerJob job = tiny_job(dir);
  job.scenarios = {"random", "balanced"};
  job.num_tokens = {8, 16};
  {
    TestFault oom("oom");
    EXPECT_THROW(run_layer_job(job, "moebench layer"), RuntimeFailure);
  }
  const std::vector<RunRecord> records = stored_records(job.record.results_db);
  ASSERT_EQ(records.size(), 4u);  // 2 scenarios x 2 token counts x 1 implementation
  for (const RunRecord& r : records) {
    EXPECT_EQ(r.status, RunStatus::failure);
    EXPECT_EQ(r.error_type, failure_kind_name(FailureKind::OOM));
    EXPECT_NE(r.error_message.find("MOEBENCH_TEST_FAULT=oom"), std::string::npos) << r.error_message;
  }
}

TEST(LayerJob, FailedVerificationExitsOne) {
  LayerResult passed, failed, unverified;
  passed.verified = true;
  passed.verify_passed = true;
  failed.verified = true;
  failed.verify_passed = false;
  EXPECT_EQ(layer_exit_code({passed, unverified}), 0);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(layer_exit_code({passed, failed, failed}), 1);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("2 result(s) FAILED verification"), std::string::npos);
}

}  // namespace
}  // namespace moebench

namespace moebench {
namespace {

TEST(LayerJob, AnImplementationThatFailsToPrepareFailsItsCasesNotTheRun) {
  // What an implementation whose extra copy does not fit does on a GPU (deepseek-v3 --impl all):
  // its cases are recorded as failures with the cause, the run finishes, the exit code is 1.
  ScratchDir dir("layer-job-impl-oom");
  LayerJob job = tiny_job(dir);
  job.scenarios = {"random", "balanced"};
  job.output_format = "csv";
  job.output_file = dir.file("rows");
  int code = -1;
  {
    TestFault oom("oom-in:reference");
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    code = run_layer_job(job, "moebench layer");
    ::testing::internal::GetCapturedStdout();
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("reference did not run 2 case(s): OOM: out of memory preparing reference"), std::string::npos)
        << err;
  }
  EXPECT_EQ(code, 1);
  const std::vector<RunRecord> records = stored_records(job.record.results_db);
  ASSERT_EQ(records.size(), 2u);
  for (const RunRecord& r : records) {
    EXPECT_EQ(r.status, RunStatus::failure);
    EXPECT_EQ(r.error_type, failure_kind_name(FailureKind::OOM));
  }
  // The CSV shows measured rows only: its header and nothing else.
  const std::string csv = testing::slurp(dir.file("rows.csv"));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1) << csv;

  // Without the fault the same job runs every case: the failure came from the fault alone.
  EXPECT_EQ(run_layer_job(job, "moebench layer"), 0);
}

TEST(LayerJob, ResultsComeInTheOrderAskedForWhateverOrderTheyRan) {
  ScratchDir dir("layer-job-order");
  LayerJob job = tiny_job(dir);
  job.scenarios = {"balanced", "random"};
  job.num_tokens = {16, 8};
  job.record.no_record = true;
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run_layer_job(job, "moebench layer"), 0);
  const std::string table = ::testing::internal::GetCapturedStdout();
  // Each row: scenario, tokens, impl, ... in the order the table prints them.
  std::vector<std::string> rows;
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string scenario, tokens, impl;
    if (words >> scenario >> tokens >> impl && impl == "reference") rows.push_back(scenario + " " + tokens);
  }
  EXPECT_EQ(rows, (std::vector<std::string>{"balanced 16", "balanced 8", "random 16", "random 8"})) << table;
}

}  // namespace
}  // namespace moebench
