// `moebench results` as a job, run in the test process without the binary: list without a store,
// export's rules of where its files go (stdout, --output-dir for the tracker files, --output-file
// otherwise), and delete and compare refusing what names nothing.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/errors.hpp"
#include "report/results_job.hpp"
#include "unit/job_fixture.hpp"
#include "unit/results_fixture.hpp"

namespace fs = std::filesystem;
using moebench::testing::failure_record;
using moebench::testing::layer_record;
using moebench::testing::ScratchDir;

namespace moebench {
namespace {

// A store of one success and one failure in a scratch directory.
struct StoredRuns {
  ScratchDir dir{"results-job"};
  std::string db = dir.file("results.db");
  StoredRuns() {
    ResultsStore store(db);
    store.record(layer_record("Qwen3-235B", "TP8_EP2_auto", 7.59));
    store.record(failure_record("DeepSeek-V3.1", "TP4_auto", "OOM", "CUDA out of memory"));
  }
  ResultsJob job(ResultsAction action) const {
    ResultsJob j;
    j.action = action;
    j.results_db = db;
    return j;
  }
};

std::string input_error(const ResultsJob& job) {
  try {
    run_results_job(job);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST(ResultsJob, ListOfTheDefaultStoreNotYetCreatedSaysSo) {
  ScratchDir dir("results-job");
  ResultsJob job;
  job.results_db = dir.file("none.db");
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run_results_job(job), 0);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(),
            "no results recorded yet in ./" + job.results_db + ": run moebench layer or moebench model first\n");
  EXPECT_FALSE(fs::exists(job.results_db));
}

TEST(ResultsJob, ListOfANamedStoreThatDoesNotExistFails) {
  ScratchDir dir("results-job");
  ResultsJob job;
  job.results_db = dir.file("none.db");
  job.results_db_given = true;
  EXPECT_ANY_THROW(run_results_job(job));
  EXPECT_FALSE(fs::exists(job.results_db));
}

TEST(ResultsJob, ExportOfOneFileWithoutOutputFileGoesToStdout) {
  StoredRuns runs;
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run_results_job(runs.job(ResultsAction::export_runs)), 0);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("Qwen3-235B"), std::string::npos) << out;
  EXPECT_NE(out.find("DeepSeek-V3.1"), std::string::npos) << out;
}

TEST(ResultsJob, ExportOfSeveralFilesNeedsOutputFile) {
  StoredRuns runs;
  ResultsJob job = runs.job(ResultsAction::export_runs);
  job.format = "all";
  EXPECT_EQ(input_error(job), "--output-format all: writes several files: give --output-file");
}

TEST(ResultsJob, TrackerFilesGoIntoOutputDir) {
  StoredRuns runs;
  ResultsJob job = runs.job(ResultsAction::export_runs);
  job.tracker_format = true;
  job.output_dir = runs.dir.file("tracker");
  EXPECT_EQ(input_error(job), "--output-dir " + job.output_dir + ": no such directory");
  fs::create_directory(job.output_dir);
  job.output_file = runs.dir.file("ignored");  // --tracker-format writes into --output-dir
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run_results_job(job), 0);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(fs::exists(fs::path(job.output_dir) / "success_results.json"));
  EXPECT_TRUE(fs::exists(fs::path(job.output_dir) / "failure_results.json"));
  EXPECT_NE(err.find("wrote 2 runs to " + (fs::path(job.output_dir) / "success_results.json").string()),
            std::string::npos)
      << err;
}

TEST(ResultsJob, TrackerFormatByNameWithOutputFileGoesBesideIt) {
  StoredRuns runs;
  ResultsJob job = runs.job(ResultsAction::export_runs);
  job.format = "tracker";
  job.output_file = runs.dir.file("base");
  job.output_dir = runs.dir.file("no-such-dir");  // not consulted: --output-file is the base
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run_results_job(job), 0);
  ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(fs::exists(runs.dir.path / "success_results.json"));
  EXPECT_TRUE(fs::exists(runs.dir.path / "failure_results.json"));
}

TEST(ResultsJob, DeleteNeedsWhatToDeleteAndCompareKnownIds) {
  StoredRuns runs;
  EXPECT_EQ(input_error(runs.job(ResultsAction::remove)),
            "results delete: name what to delete: run ids, or --model, --kind, --status or --group");
  ResultsJob compare = runs.job(ResultsAction::compare);
  compare.ids = {1, 99};
  EXPECT_NE(input_error(compare).find("run id 99: no such run"), std::string::npos);
  ResultsJob remove = runs.job(ResultsAction::remove);
  remove.model = "Qwen3-235B";
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run_results_job(remove), 0);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "deleted 1 runs\n");
}

}  // namespace
}  // namespace moebench
