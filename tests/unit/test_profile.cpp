// --profile: Chrome traces that Perfetto opens. On the CPU backend the spans are host-timed
// phases, which is what CI can check: the file parses, every phase is there, nested in its
// run, with a positive duration.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "backend/backend.hpp"
#include "cli_runner.hpp"
#include "profile/chrome_trace.hpp"
#include "profile/profiler.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using moebench::testing::CliResult;
using moebench::testing::expect_bad_input;
using moebench::testing::fresh_temp_dir;
using moebench::testing::run_moebench;
using moebench::testing::slurp;

namespace {

const std::string kTinyProfiled =
    "layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 128 "
    "--intermediate-size 256 --benchmark-iters 3 --warmup-iters 1 --quiet --profile";

std::vector<json> complete_events(const json& trace) {
  std::vector<json> out;
  for (const json& e : trace.at("traceEvents"))
    if (e.at("ph") == "X") out.push_back(e);
  return out;
}

const json* find_event(const std::vector<json>& events, const std::string& name) {
  for (const json& e : events)
    if (e.at("name") == name) return &e;
  return nullptr;
}

}  // namespace

TEST(ChromeTrace, TracksNamedAndParentsFirst) {
  using moebench::TraceSpan;
  TraceSpan parent{"run", "run", 1, 1, "phases", 10.0, 5.0};
  TraceSpan child{"prepare", "phase", 1, 1, "phases", 10.0, 1.0};
  TraceSpan kernel{"gemm", "kernel", 2, 7, "stream 7", 11.0, 0.5};
  kernel.args["grid"] = {1, 2, 3};
  json doc = json::parse(moebench::chrome_trace_json({child, kernel, parent},
                                                     {{1, "host"}, {2, "GPU"}, {3, "unused process"}},
                                                     {{"span_source", "test"}}));
  EXPECT_EQ(doc.at("otherData").at("span_source"), "test");
  std::vector<json> x = complete_events(doc);
  ASSERT_EQ(x.size(), 3u);
  EXPECT_EQ(x[0].at("name"), "run");  // same start as "prepare", longer: listed first
  EXPECT_EQ(x[1].at("name"), "prepare");
  EXPECT_EQ(x[2].at("args").at("grid"), json({1, 2, 3}));
  std::set<std::string> names;
  for (const json& e : doc.at("traceEvents"))
    if (e.at("ph") == "M") names.insert(e.at("name").get<std::string>() + ":" + e.at("args").at("name").get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"process_name:host", "process_name:GPU", "thread_name:phases",
                                          "thread_name:stream 7"}));
}

TEST(ChromeTrace, FileNamesAreSafe) {
  EXPECT_EQ(moebench::trace_file_path("out", {"path/to/config.json (routed experts only)", "naive", "random", 512}),
            "out/path-to-config.json--routed-experts-only-_naive_random_512.trace.json");
}

TEST(Profiler, RunTraceHoldsItsSpansAndItsSetupOnly) {
  auto dir = fresh_temp_dir("profiler");
  auto backend = moebench::make_backend(moebench::BackendKind::cpu);
  moebench::Profiler profiler(*backend, dir.string(), {{"tool", "test"}});
  EXPECT_STREQ(profiler.source(), "host");
  moebench::Profiler::SpanId setup, second_run;
  {
    moebench::PhaseScope s(&profiler, "setup", "setup");
    setup = s.span();
  }
  {
    moebench::PhaseScope run(&profiler, "first", "run");
    moebench::PhaseScope inner(&profiler, "first inner");
  }
  {
    moebench::PhaseScope run(&profiler, "second", "run");
    moebench::PhaseScope inner(&profiler, "second inner");
    second_run = run.span();
  }
  std::string path = profiler.write_run({"m", "impl", "random", 8}, second_run, {setup});
  EXPECT_EQ(path, (dir / "m_impl_random_8.trace.json").string());
  std::vector<json> x = complete_events(json::parse(slurp(path)));
  std::set<std::string> names;
  for (const json& e : x) names.insert(e.at("name"));
  EXPECT_EQ(names, (std::set<std::string>{"setup", "second", "second inner"}));
  fs::remove_all(dir);
}

TEST(ProfileCli, TracePerRunWithEveryPhaseNested) {
  auto dir = fresh_temp_dir("profile");
  CliResult r = run_moebench(kTinyProfiled + " --num-tokens 16 --scenarios random,balanced --profile-dir '" +
                             (dir / "traces").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("host-timed phases (CPU backend)"), std::string::npos) << r.err;
  for (const char* scenario : {"random", "balanced"}) {
    SCOPED_TRACE(scenario);
    fs::path file = dir / "traces" / (std::string("manual-e8-k2-h128-i256_reference_") + scenario + "_16.trace.json");
    ASSERT_TRUE(fs::exists(file));
    json trace = json::parse(slurp(file));  // throws, failing the test, if it is not JSON
    EXPECT_EQ(trace.at("otherData").at("span_source"), "host");
    EXPECT_EQ(trace.at("otherData").at("scenario"), scenario);
    std::vector<json> x = complete_events(trace);
    const json* run = find_event(x, std::string("reference ") + scenario + " tokens=16");
    ASSERT_NE(run, nullptr);
    const double run_start = run->at("ts"), run_end = run_start + run->at("dur").get<double>();
    for (const char* phase : {"prepare", "verify", "warmup", "iteration 0", "iteration 1", "iteration 2",
                              "synchronize"}) {
      SCOPED_TRACE(phase);
      const json* e = find_event(x, phase);
      ASSERT_NE(e, nullptr);
      EXPECT_EQ(e->at("pid"), run->at("pid"));
      EXPECT_GT(e->at("dur").get<double>(), 0.0);
      EXPECT_GE(e->at("ts").get<double>(), run_start);
      EXPECT_LE(e->at("ts").get<double>() + e->at("dur").get<double>(), run_end);
    }
    // The work the run reuses is in its trace too, before it.
    for (const std::string& setup : {std::string("setup reference"), std::string("inputs ") + scenario + " tokens=16"}) {
      const json* e = find_event(x, setup);
      ASSERT_NE(e, nullptr) << setup;
      EXPECT_LE(e->at("ts").get<double>() + e->at("dur").get<double>(), run_start);
    }
    EXPECT_EQ(x.size(), 10u);  // run, 7 phases, 2 setup spans: nothing of the other scenario's run
  }
  fs::remove_all(dir);
}

TEST(ProfileCli, BadProfileDirWritesNothing) {
  auto dir = fresh_temp_dir("profile-bad");
  std::ofstream(dir / "a-file") << "x";
  expect_bad_input(kTinyProfiled + " --profile-dir '" + (dir / "a-file").string() + "'", "--profile-dir");
  expect_bad_input(kTinyProfiled + " --profile-dir '" + (dir / "a-file" / "sub").string() + "'", "--profile-dir");
  // --profile-dir alone is a mistake, not a silent no-op.
  expect_bad_input("layer --backend cpu --profile-dir '" + (dir / "p").string() + "'", "--profile");
  // Other bad input with --profile: the directory is not even created.
  expect_bad_input(kTinyProfiled + " --num-tokens 0 --profile-dir '" + (dir / "p").string() + "'", "--num-tokens");
  EXPECT_FALSE(fs::exists(dir / "p"));
  fs::remove_all(dir);
}

TEST(ProfileCli, HelpListsTheFlags) {
  CliResult help = run_moebench("layer --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--profile "), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--profile-dir"), std::string::npos);
  EXPECT_NE(help.out.find("./profiles"), std::string::npos);
}

// moebench model --profile: after each batch size's timed runs, one trace of a prefill and the
// first decode steps, nested in the batch's run span; a bad directory is refused before the run.
TEST(ProfileCli, ModelTracePerBatchSize) {
  auto dir = fresh_temp_dir("profile-model");
  const std::string model =
      "model --backend cpu --quiet --no-record --model tiny --warmup-runs 0 --benchmark-runs 1 --input-len 8 "
      "--output-len 6 --batch-size 1,2 --profile --profile-dir '" + (dir / "traces").string() + "'";
  CliResult r = run_moebench(model);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int batch : {1, 2}) {
    SCOPED_TRACE(batch);
    fs::path file = dir / "traces" / ("tiny_reference_decode_" + std::to_string(batch) + ".trace.json");
    ASSERT_TRUE(fs::exists(file));
    std::vector<json> x = complete_events(json::parse(slurp(file)));
    const json* run = find_event(x, "profile batch " + std::to_string(batch));
    ASSERT_NE(run, nullptr);
    const double run_start = run->at("ts"), run_end = run_start + run->at("dur").get<double>();
    // 5 decode steps in the run: the first 4 are traced.
    for (const char* phase : {"prefill", "decode step 1", "decode step 2", "decode step 3", "decode step 4"}) {
      SCOPED_TRACE(phase);
      const json* e = find_event(x, phase);
      ASSERT_NE(e, nullptr);
      EXPECT_GT(e->at("dur").get<double>(), 0.0);
      EXPECT_GE(e->at("ts").get<double>(), run_start);
      EXPECT_LE(e->at("ts").get<double>() + e->at("dur").get<double>(), run_end);
    }
    EXPECT_EQ(find_event(x, "decode step 5"), nullptr);
    EXPECT_EQ(x.size(), 6u);
  }
  std::ofstream(dir / "a-file") << "x";
  expect_bad_input("model --backend cpu --model tiny --profile --profile-dir '" + (dir / "a-file").string() + "'",
                   "--profile-dir");
  expect_bad_input("model --backend cpu --model tiny --profile-dir '" + (dir / "p").string() + "'", "--profile");
  EXPECT_FALSE(fs::exists(dir / "p"));
  fs::remove_all(dir);
}
