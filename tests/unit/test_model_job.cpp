// `moebench model` as a job, run in the test process on the CPU backend without the binary: the
// defaults the job picks, bad input and a run that fits nowhere refused before a store exists,
// a run's files and records, the failures recorded when the run fails, and the exit code of a
// batch size that failed at run time.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "bench/model_job.hpp"
#include "core/errors.hpp"
#include "unit/job_fixture.hpp"

namespace fs = std::filesystem;
using moebench::testing::ScratchDir;
using moebench::testing::slurp;
using moebench::testing::stored_records;
using moebench::testing::TestFault;

namespace moebench {
namespace {

// The tiny preset at a short context: a run of it takes well under a second on the CPU.
ModelJob tiny_job(const ScratchDir& dir) {
  ModelJob job;
  job.backend = "cpu";
  job.model.model = "tiny";
  job.input_len = 8;
  job.output_len = 4;
  job.batch_sizes = {1};
  job.warmup_runs = 0;
  job.benchmark_runs = 1;
  job.quiet = true;
  job.record.results_db = dir.file("results.db");
  return job;
}

TEST(ModelJob, DefaultsFollowTheBackend) {
  const ModelRunOptions run = model_run_options(ModelJob{}, BackendKind::cpu);
  EXPECT_EQ(run.decoder.model.name, "tiny");
  EXPECT_EQ(run.batch_sizes, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(run.input_len, 32);
  EXPECT_EQ(run.output_len, 8);
  EXPECT_EQ(run.moe_impl, "reference");
  EXPECT_EQ(run.decoder.dtype, DType::bf16);
  EXPECT_EQ(run.warmup_runs, 1);
  EXPECT_EQ(run.benchmark_runs, 3);
  EXPECT_EQ(run.prefill_chunk, 8192);

  ScratchDir dir("model-job-given");
  ModelJob given = tiny_job(dir);
  given.num_layers = 2;
  const ModelRunOptions truncated = model_run_options(given, BackendKind::cpu);
  EXPECT_EQ(truncated.decoder.model.num_layers, 2);
  EXPECT_EQ(truncated.input_len, 8);
  EXPECT_EQ(truncated.batch_sizes, std::vector<int64_t>{1});
}

TEST(ModelJob, BadInputIsRefusedBeforeTheStoreExists) {
  ScratchDir dir("model-job-bad");
  const std::string db = dir.file("results.db");
  auto expect_refused = [&](const ModelJob& job, const std::string& message_part) {
    try {
      run_model_job(job, "moebench model");
      ADD_FAILURE() << "no InputError for " << message_part;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(message_part), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(db)) << message_part;
  };
  ModelJob job = tiny_job(dir);
  job.batch_sizes = {0};
  expect_refused(job, "--batch-size: batch sizes must be positive (got 0)");
  job = tiny_job(dir);
  job.moe_impl = "grouped";
  expect_refused(job, "--impl: unknown implementation 'grouped' for the cpu backend");
  job = tiny_job(dir);
  job.output_format = "xml";
  expect_refused(job, "--output-format");
  // DeepSeek-V3 in bf16 holds about 1.3 TB of weights: no batch size fits.
  job = tiny_job(dir);
  job.model.model = "deepseek-v3";
  job.input_len.reset();
  job.output_len.reset();
  expect_refused(job, "deepseek-v3 at batch 1, input 32, output 8 does not fit: needed");
}

TEST(ModelJob, RunWritesItsReportFilesAndRecords) {
  ScratchDir dir("model-job-run");
  ModelJob job = tiny_job(dir);
  job.batch_sizes = {1, 2};
  job.output_format = "json";
  job.output_file = dir.file("tiny");
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code = run_model_job(job, "moebench model --test");
  const std::string out = ::testing::internal::GetCapturedStdout();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 0) << err;
  EXPECT_NE(out.find("# moebench model: tiny"), std::string::npos) << out;
  EXPECT_NE(err.find("wrote " + dir.file("tiny.json")), std::string::npos) << err;
  const nlohmann::json doc = nlohmann::json::parse(slurp(dir.file("tiny.json")));
  ASSERT_EQ(doc["runs"].size(), 2u);
  EXPECT_EQ(doc["runs"][1]["details"]["batch"]["status"], "ok");
  const std::vector<RunRecord> records = stored_records(job.record.results_db);
  ASSERT_EQ(records.size(), 2u);
  for (const RunRecord& r : records) {
    EXPECT_EQ(r.kind, "model");
    EXPECT_EQ(r.status, RunStatus::success);
    EXPECT_EQ(r.command_line, "moebench model --test");
  }
}

TEST(ModelJob, RuntimeFailureRecordsEveryPlannedBatchSize) {
  ScratchDir dir("model-job-fault");
  ModelJob job = tiny_job(dir);
  job.batch_sizes = {1, 2, 4};
  {
    TestFault oom("oom");
    EXPECT_THROW(run_model_job(job, "moebench model"), RuntimeFailure);
  }
  const std::vector<RunRecord> records = stored_records(job.record.results_db);
  ASSERT_EQ(records.size(), 3u);
  for (const RunRecord& r : records) {
    EXPECT_EQ(r.status, RunStatus::failure);
    EXPECT_EQ(r.error_type, failure_kind_name(FailureKind::OOM));
  }
}

TEST(ModelJob, FailedBatchSizeExitsOne) {
  ModelResult result;
  result.batches.resize(2);
  EXPECT_EQ(model_exit_code(result), 0);
  result.batches[1].status = BatchResult::Status::refused;
  EXPECT_EQ(model_exit_code(result), 0);
  result.batches[0].status = BatchResult::Status::failed;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(model_exit_code(result), 1);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("a batch size FAILED at run time"), std::string::npos);
}

}  // namespace
}  // namespace moebench
