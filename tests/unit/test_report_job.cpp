// `moebench report` as a job, run in the test process without the binary: the formats as typed
// read into the report's options, --no-plots, each file written named on stdout, the command
// line in the report, and a bad format refused before anything is written.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/errors.hpp"
#include "report/report_job.hpp"
#include "unit/job_fixture.hpp"
#include "unit/results_fixture.hpp"

namespace fs = std::filesystem;
using moebench::testing::layer_record;
using moebench::testing::ScratchDir;
using moebench::testing::slurp;

namespace moebench {
namespace {

ReportJob job_in(const ScratchDir& dir) {
  ReportJob job;
  job.report.results_db = dir.file("results.db");
  ResultsStore(job.report.results_db).record(layer_record("small", "TP1_EP1_naive", 1.5));
  job.report.output_dir = dir.file("report");
  job.no_plots = true;
  return job;
}

TEST(ReportJob, MarkdownOnlyWithoutPlotsNamesItsFile) {
  ScratchDir dir("report-job");
  ReportJob job = job_in(dir);
  job.formats = {"md"};
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run_report_job(job, "moebench report --format md"), 0);
  const std::string out = ::testing::internal::GetCapturedStdout();
  const fs::path md = fs::path(job.report.output_dir) / "report.md";
  EXPECT_EQ(out, "wrote " + md.string() + "\n");
  EXPECT_FALSE(fs::exists(fs::path(job.report.output_dir) / "report.html"));
  EXPECT_NE(slurp(md).find("Command: moebench report --format md"), std::string::npos);
}

TEST(ReportJob, BadFormatWritesNothing) {
  ScratchDir dir("report-job");
  ReportJob job = job_in(dir);
  job.formats = {"pdf"};
  EXPECT_THROW(run_report_job(job, "moebench report"), InputError);
  EXPECT_FALSE(fs::exists(job.report.output_dir));
}

}  // namespace
}  // namespace moebench
