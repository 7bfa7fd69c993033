// `moebench model` as a job, run in the test process on the CPU backend without the binary: the
// defaults the job picks, bad input and a run that fits nowhere refused before a store exists,
// a run's files and records, the failures recorded when the run fails, and the exit code of a
// batch size that failed at run time.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

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
  job.input_lens = {8};
  job.output_lens = {4};
  job.batch_sizes = {1};
  job.warmup_runs = 0;
  job.benchmark_runs = 1;
  job.quiet = true;
  job.record.results_db = dir.file("results.db");
  return job;
}

TEST(ModelJob, DefaultsFollowTheBackend) {
  const std::vector<ModelRunOptions> runs = model_run_options(ModelJob{}, BackendKind::cpu);
  ASSERT_EQ(runs.size(), 1u);
  const ModelRunOptions& run = runs.front();
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
  const ModelRunOptions truncated = model_run_options(given, BackendKind::cpu).front();
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
  job.input_lens.clear();
  job.output_lens.clear();
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

TEST(ModelJob, ABatchSizeThatDidNotRunExitsOne) {
  // One rule for every benchmark command: exit 1 when any requested configuration did not run
  // to a result, whether the pre-flight refused it or it failed at run time.
  std::vector<ModelResult> results(2);
  results[0].batches.resize(2);
  results[1].batches.resize(1);
  EXPECT_EQ(model_exit_code(results), 0);
  results[1].batches[0].status = BatchResult::Status::refused;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(model_exit_code(results), 1);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("1 batch size(s) did not fit"), std::string::npos);
  results[1].batches[0].status = BatchResult::Status::ok;
  results[0].batches[0].status = BatchResult::Status::failed;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(model_exit_code(results), 1);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("1 batch size(s) FAILED at run time"), std::string::npos);
}

TEST(ModelJob, LengthsAreCrossedWithEachOtherAndTheBatchSizes) {
  ScratchDir dir("model-job-lengths");
  ModelJob job = tiny_job(dir);
  job.input_lens = {8, 12};
  job.output_lens = {3, 4};
  job.batch_sizes = {1, 2};
  const std::vector<ModelRunOptions> runs = model_run_options(job, BackendKind::cpu);
  ASSERT_EQ(runs.size(), 4u);
  const std::vector<std::pair<int64_t, int64_t>> expected = {{8, 3}, {8, 4}, {12, 3}, {12, 4}};
  for (size_t i = 0; i < runs.size(); ++i)
    EXPECT_EQ(std::make_pair(runs[i].input_len, runs[i].output_len), expected[i]) << i;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code = run_model_job(job, "moebench model");
  ::testing::internal::GetCapturedStdout();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 0) << err;
  const std::vector<RunRecord> records = stored_records(job.record.results_db);
  ASSERT_EQ(records.size(), 8u);
  std::set<std::string> configs;
  for (const RunRecord& r : records) configs.insert(r.config);
  EXPECT_EQ(configs.size(), 8u);
  EXPECT_EQ(configs.count("TP1_EP1_reference_bs2_in12_out3_bf16"), 1u);
}

}  // namespace
}  // namespace moebench
