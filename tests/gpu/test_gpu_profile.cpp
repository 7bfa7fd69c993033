// --profile on the GPU: kernel-level spans (CUPTI activity records, or CUDA events around the
// phases where libcupti cannot be loaded) in the trace of every run, on the host's timeline.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "backend/backend.hpp"
#include "gpu_test_util.hpp"
#include "profile/device_activity.hpp"
#include "unit/cli_runner.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::vector<json> events_of(const json& trace, const std::string& category) {
  std::vector<json> out;
  for (const json& e : trace.at("traceEvents"))
    if (e.at("ph") == "X" && e.at("cat") == category) out.push_back(e);
  return out;
}

double end_of(const json& e) { return e.at("ts").get<double>() + e.at("dur").get<double>(); }

}  // namespace

TEST(GpuProfile, EveryRunHasKernelSpansInsideIt) {
  REQUIRE_GPU();
  auto dir = moebench::testing::fresh_temp_dir("gpu-profile");
  moebench::testing::CliResult r = moebench::testing::run_moebench(
      "layer --backend cuda --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 1024 "
      "--intermediate-size 512 --num-tokens 256 --scenarios random --impl naive,grouped --benchmark-iters 2 "
      "--quiet --profile --profile-dir '" + dir.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* impl : {"naive", "grouped"}) {
    SCOPED_TRACE(impl);
    fs::path file = dir / (std::string("manual-e8-k2-h1024-i512_") + impl + "_random_256.trace.json");
    ASSERT_TRUE(fs::exists(file)) << r.err;
    json trace = json::parse(moebench::testing::slurp(file));
    const std::string source = trace.at("otherData").at("span_source");
    const std::string detail = trace.at("otherData").at("span_source_detail");
    std::vector<json> runs = events_of(trace, "run");
    ASSERT_EQ(runs.size(), 1u);
    const json& run = runs[0];
    if (source == "cupti") {
      std::vector<json> kernels = events_of(trace, "kernel");
      ASSERT_FALSE(kernels.empty()) << detail;
      int in_run = 0;
      for (const json& k : kernels) {
        EXPECT_GT(k.at("dur").get<double>(), 0.0);
        EXPECT_EQ(k.at("args").at("grid").size(), 3u);
        EXPECT_EQ(k.at("args").at("block").size(), 3u);
        EXPECT_TRUE(k.at("args").contains("stream"));
        EXPECT_FALSE(k.at("args").at("kernel").get<std::string>().empty());
        in_run += k.at("ts").get<double>() >= run.at("ts").get<double>() && k.at("ts").get<double>() <= end_of(run);
      }
      // Verification, warm-up and two timed forwards each launch the implementation's kernels.
      EXPECT_GE(in_run, 4) << detail;
      if (detail.find(", NVTX markers") != std::string::npos) {
        bool verify_marker = false;
        for (const json& m : events_of(trace, "nvtx")) verify_marker |= m.at("name") == "verify";
        EXPECT_TRUE(verify_marker) << "markers enabled but no NVTX range came back: " << detail;
      }
    } else {
      ASSERT_EQ(source, "cuda-events") << detail;
      std::vector<json> phases = events_of(trace, "gpu-phase");
      bool iteration = false;
      for (const json& p : phases) {
        EXPECT_GE(p.at("dur").get<double>(), 0.0);
        iteration |= p.at("name") == "iteration 1";
      }
      EXPECT_TRUE(iteration);
    }
  }
  fs::remove_all(dir);
}

// The fallback is what a machine without libcupti gets: test it whether or not CUPTI is here.
TEST(GpuProfile, CudaEventSpansFollowTheWork) {
  REQUIRE_GPU();
  auto backend = moebench::make_backend(moebench::BackendKind::cuda);
  moebench::TraceClock clock;
  auto activity = moebench::make_cuda_event_activity(*backend, clock, "test");
  EXPECT_STREQ(activity->source(), "cuda-events");
  moebench::DeviceBuffer buffer(*backend, size_t(256) << 20);
  const double before = clock.now_us();
  activity->phase_begin(0);
  for (int i = 0; i < 8; ++i) backend->fill_bytes(buffer.get(), uint8_t(i), buffer.bytes());
  activity->phase_end(0, "fill");
  std::vector<moebench::TraceSpan> spans = activity->collect();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].name, "fill");
  EXPECT_GT(spans[0].dur_us, 10.0);  // 2 GiB of memset takes far longer than 10 us
  EXPECT_GE(spans[0].start_us, before - 50.0);  // the anchor is read a few us after it completes
  EXPECT_LE(spans[0].end_us(), clock.now_us() + 50.0);
  EXPECT_TRUE(activity->collect().empty());
}
