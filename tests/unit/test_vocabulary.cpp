// One vocabulary (cli/vocabulary.hpp): every other spelling of a shared flag reaches the same
// option as its canonical name, so the same command typed either way prints the same thing;
// the shared defaults are one per idea across commands; no user-facing text names the
// internal documents users have never seen.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "cli/vocabulary.hpp"
#include "cli_runner.hpp"
#include "core/defaults.hpp"
#include "core/errors.hpp"
#include "results/results_store.hpp"

namespace fs = std::filesystem;
using moebench::testing::CliResult;
using moebench::testing::expect_bad_input;
using moebench::testing::fresh_temp_dir;
using moebench::testing::run_moebench;

namespace {

// Runs `base + canonical` and `base + alias` and expects the same exit code and stdout.
void expect_same(const std::string& base, const std::string& canonical, const std::string& alias) {
  CliResult a = run_moebench(base + " " + canonical);
  CliResult b = run_moebench(base + " " + alias);
  EXPECT_EQ(a.exit_code, b.exit_code) << alias << "\n" << b.err;
  EXPECT_EQ(a.out, b.out) << canonical << " vs " << alias;
  EXPECT_FALSE(a.out.empty()) << a.err;
}

const std::string kMemory = "memory --model qwen3-235b-a22b --gpu-memory-gib 80";

}  // namespace

TEST(Vocabulary, TensorParallelAliases) {
  for (const char* alias : {"--tp 8", "-tp 8", "-tp=8", "--tensor-parallel-size 8", "--tp-degree 8", "--tp=8"})
    expect_same(kMemory, "--tp-size 8", alias);
}

TEST(Vocabulary, ExpertParallelAliases) {
  for (const char* alias : {"--ep 2", "-ep 2", "--expert-parallel-size 2", "--moe-ep-degree 2"})
    expect_same(kMemory + " --tp-size 8", "--ep-size 2", alias);
}

TEST(Vocabulary, AliasesChangeTheResult) {
  // The test above would pass if the aliases were ignored and the default ran both times.
  CliResult one = run_moebench(kMemory + " --tp-size 1");
  CliResult eight = run_moebench(kMemory + " -tp 8");
  EXPECT_NE(one.out, eight.out);
}

TEST(Vocabulary, OutputFormatAlias) {
  expect_same(kMemory, "--output-format json", "--format json");
  expect_same("throughput --tokens-per-sec 1000", "--output-format json", "--format json");
}

TEST(Vocabulary, SweepAliases) {
  const std::string base = "sweep --backend cpu --dry-run --model tiny --command model --batch-size 1";
  expect_same(base, "--impl reference", "--moe-impl reference");
  expect_same(base, "--tp-size 1 --ep-size 1", "--tp 1 --ep 1");
  expect_same(base, "--warmup-iters 2 --benchmark-iters 3", "--warmup-runs 2 --benchmark-runs 3");
  // The children's command lines use the canonical names.
  CliResult r = run_moebench(base + " --benchmark-runs 3 --moe-impl reference");
  EXPECT_NE(r.out.find("--impl reference"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--benchmark-iters 3"), std::string::npos) << r.out;
}

TEST(Vocabulary, ReportFormatSpellings) {
  auto dir = fresh_temp_dir("vocabulary_report");
  const std::string base = "report --no-plots --results-db '" + (dir / "none.db").string() + "' --output-dir '" +
                           (dir / "out").string() + "'";
  // Both spellings are accepted, and so is `md` for markdown; an unknown one is refused naming the flag.
  CliResult a = run_moebench(base + " --output-format markdown");
  CliResult b = run_moebench(base + " --format md");
  EXPECT_EQ(a.exit_code, b.exit_code) << b.err;
  CliResult bad = run_moebench(base + " --format pdf");
  EXPECT_EQ(bad.exit_code, 2);
  fs::remove_all(dir);
}

TEST(Vocabulary, ShortAliasesAreExpandedOnlyAsFlags) {
  const char* argv[] = {"moebench", "memory", "-tp", "8", "-ep=2", "--", "-tp"};
  std::vector<std::string> args = moebench::cli::expand_short_aliases(7, const_cast<char**>(argv));
  EXPECT_EQ(args, (std::vector<std::string>{"moebench", "memory", "--tp-size", "8", "--ep-size=2", "--", "-tp"}));
}

TEST(Vocabulary, OneDefaultLengthEverywhere) {
  // memory and sweep take the shared default lengths and prefill chunk unless told otherwise.
  CliResult memory = run_moebench("memory --model qwen3-30b-a3b --gpu-memory-gib 80 --output-format json");
  ASSERT_EQ(memory.exit_code, 0) << memory.err;
  EXPECT_NE(memory.out.find("\"input_len\": " + std::to_string(moebench::kDefaultInputLen)), std::string::npos)
      << memory.out.substr(0, 2000);
  EXPECT_NE(memory.out.find("\"chunked_prefill_size\": " + std::to_string(moebench::kDefaultChunkedPrefillSize)),
            std::string::npos);
  CliResult sweep = run_moebench("sweep --backend cpu --dry-run --model tiny --command model --batch-size 1");
  ASSERT_EQ(sweep.exit_code, 0) << sweep.err;
  EXPECT_NE(sweep.out.find("--input-len " + std::to_string(moebench::kDefaultInputLen) + " --output-len " +
                           std::to_string(moebench::kDefaultOutputLen)),
            std::string::npos)
      << sweep.out;
}

TEST(Vocabulary, NoInternalDocumentNamesInHelp) {
  const std::regex internal("[Ss]eeds? 0[0-9]{2}");
  for (const char* command : {"layer", "model", "memory", "throughput", "sweep", "results", "results export",
                              "report", "info"}) {
    CliResult r = run_moebench(std::string(command) + " --help");
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_FALSE(std::regex_search(r.out + r.err, internal)) << command << ":\n" << r.out;
  }
  CliResult example = run_moebench("throughput");
  EXPECT_FALSE(std::regex_search(example.out + example.err, internal)) << example.err;
}

namespace {

// The first run of a JSON result file: {"schema_version": N, "runs": [...]}.
nlohmann::json first_run(const fs::path& file) {
  std::ifstream in(file);
  nlohmann::json doc = nlohmann::json::parse(in);
  return doc["runs"].at(0);
}

}  // namespace

TEST(Vocabulary, LayerTakesEveryAlias) {
  auto dir = fresh_temp_dir("vocabulary_layer");
  CliResult r = run_moebench(
      "layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 128 "
      "--intermediate-size 256 --num-tokens 8 --scenarios random --quiet --no-record --moe-impl reference "
      "--warmup-runs 0 --benchmark-runs 2 -tp 1 --ep 1 --format json --output-file '" +
      (dir / "layer").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json run = first_run(dir / "layer.json");
  EXPECT_EQ(run["params"]["impl"], "reference");
  EXPECT_EQ(run["details"]["warmup_iters"], 0);
  EXPECT_EQ(run["details"]["benchmark_iters"], 2);
  fs::remove_all(dir);
}

TEST(Vocabulary, ModelTakesEveryAlias) {
  auto dir = fresh_temp_dir("vocabulary_model");
  CliResult r = run_moebench("model --backend cpu --model tiny --batch-size 1 --input-len 8 --output-len 2 --quiet "
                             "--no-record --impl reference --warmup-iters 0 --benchmark-iters 1 "
                             "--tensor-parallel-size 1 --expert-parallel-size 1 --format json --output-file '" +
                             (dir / "model").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json run = first_run(dir / "model.json");
  EXPECT_EQ(run["params"]["moe_impl"], "reference");
  EXPECT_EQ(run["details"]["warmup_runs"], 0);
  EXPECT_EQ(run["details"]["benchmark_runs"], 1);
  fs::remove_all(dir);
}

TEST(Vocabulary, TrackerFormatAndItsOldSpelling) {
  auto dir = fresh_temp_dir("vocabulary_tracker");
  const std::string db = (dir / "r.db").string();
  ASSERT_EQ(run_moebench("layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size "
                         "128 --intermediate-size 256 --num-tokens 8 --scenarios random --quiet --benchmark-iters 1 "
                         "--results-db '" + db + "'")
                .exit_code,
            0);
  for (const char* flag : {"--tracker-format", "--seed-format"}) {
    fs::create_directories(dir / flag);
    CliResult r = run_moebench(std::string("results export ") + flag + " --output-dir '" + (dir / flag).string() +
                               "' --results-db '" + db + "'");
    EXPECT_EQ(r.exit_code, 0) << flag << r.err;
    EXPECT_TRUE(fs::exists(dir / flag / "success_results.json")) << flag;
  }
  fs::remove_all(dir);
}

// NxDI's layout names: tp_degree = moe_tp_degree x moe_ep_degree.
TEST(Vocabulary, MoeTpDegreeTimesEpSizeIsTpSize) {
  using moebench::cli::tp_size_from_moe_tp_degree;
  EXPECT_EQ(tp_size_from_moe_tp_degree(2, 4, std::nullopt), 8);
  EXPECT_EQ(tp_size_from_moe_tp_degree(1, 8, std::nullopt), 8);
  EXPECT_EQ(tp_size_from_moe_tp_degree(8, 1, std::nullopt), 8);
  EXPECT_EQ(tp_size_from_moe_tp_degree(2, 4, 8), 8);  // all three given, and they agree
  EXPECT_THROW(tp_size_from_moe_tp_degree(2, 4, 4), moebench::InputError);
  EXPECT_THROW(tp_size_from_moe_tp_degree(0, 4, std::nullopt), moebench::InputError);
  EXPECT_THROW(tp_size_from_moe_tp_degree(-2, 4, std::nullopt), moebench::InputError);
  EXPECT_THROW(tp_size_from_moe_tp_degree(1 << 20, 1 << 12, std::nullopt), moebench::InputError);
}

TEST(Vocabulary, LayerRunsTheRanksNxDIsDegreesName) {
#ifndef MOEBENCH_GLOO_PLUGIN_PATH
  GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
#endif
  auto dir = fresh_temp_dir("vocabulary_nxdi");
  const std::string base =
      "layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 64 "
      "--intermediate-size 128 --num-tokens 4 --scenarios random --quiet --warmup-iters 0 --benchmark-iters 1 ";
  // moe_tp_degree 1 x moe_ep_degree 2: two ranks of pure EP; moe_tp_degree 2 alone: two ranks of
  // pure TP; with tp_degree given too, when it agrees.
  const struct {
    std::string flags;
    int tp, ep;
  } cases[] = {{"--moe-tp-degree 1 --moe-ep-degree 2 --impl ep", 2, 2},
               {"--moe-tp-degree 2 --impl tp", 2, 1},
               {"--tp-degree 2 --moe-tp-degree 2 --moe-ep-degree 1 --impl tp", 2, 1}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.flags);
    const std::string db = (dir / (std::to_string(&c - cases) + ".db")).string();
    CliResult r = run_moebench(base + c.flags + " --results-db '" + db + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("x " + std::to_string(c.tp) + " ranks"), std::string::npos) << r.out;
    const auto records = moebench::ResultsStore(db, moebench::ResultsStore::OpenMode::must_exist).list();
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].params["tp_size"], c.tp);
    EXPECT_EQ(records[0].params["ep_size"], c.ep);
    EXPECT_EQ(records[0].details["moe_tp_size"], c.tp / c.ep);
  }
  fs::remove_all(dir);
}

TEST(Vocabulary, MoeTpDegreeThatDisagreesIsRefusedNamingBothFlags) {
  auto dir = fresh_temp_dir("vocabulary_nxdi_bad");
  const std::string db = (dir / "r.db").string();
  const std::string layer = "layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 2 "
                            "--hidden-size 64 --intermediate-size 128 --num-tokens 4 --results-db '" + db + "' ";
  const std::string model = "model --backend cpu --model tiny --results-db '" + db + "' ";
  // In the spellings typed.
  expect_bad_input(layer + "--tp-degree 8 --moe-tp-degree 2 --moe-ep-degree 2",
                   "--tp-degree (8) is not --moe-tp-degree (2) x --moe-ep-degree (2) = 4: give --tp-degree 4, or "
                   "leave --tp-degree out");
  expect_bad_input(model + "--tp-size 2 --moe-tp-degree 2 --ep-size 2",
                   "--tp-size (2) is not --moe-tp-degree (2) x --ep-size (2) = 4");
  expect_bad_input(layer + "--moe-tp-degree 0", "--moe-tp-degree (0) must be at least 1");
  expect_bad_input(model + "--moe-tp-degree 0 --ep-size 2", "--moe-tp-degree (0) must be at least 1");
  EXPECT_FALSE(fs::exists(db));
  fs::remove_all(dir);
}

TEST(Vocabulary, ModelTakesMoeTpDegreeAsItsTpSize) {
  auto dir = fresh_temp_dir("vocabulary_nxdi_model");
  const std::string base = "model --backend cpu --model tiny --batch-size 1 --input-len 8 --output-len 2 --quiet "
                           "--impl reference --warmup-iters 0 --benchmark-iters 1 --ep-size 1 ";
  // moe_tp_degree 2 x ep 1 is --tp-size 2: whatever this build's model benchmark does with two
  // devices (run them, or refuse them), it does the same for both spellings.
  CliResult a = run_moebench(base + "--moe-tp-degree 2 --results-db '" + (dir / "a.db").string() + "'");
  CliResult b = run_moebench(base + "--tp-size 2 --results-db '" + (dir / "b.db").string() + "'");
  EXPECT_EQ(a.exit_code, b.exit_code) << a.err << b.err;
  if (b.exit_code != 0) {
    EXPECT_EQ(a.err, b.err);
  } else {
    const auto records = moebench::ResultsStore((dir / "a.db").string(), moebench::ResultsStore::OpenMode::must_exist).list();
    ASSERT_FALSE(records.empty());
    EXPECT_EQ(records[0].params["tp_size"], 2);
  }
  // And one device it runs: moe_tp_degree 1 x ep 1.
  CliResult one = run_moebench(base + "--moe-tp-degree 1 --no-record");
  EXPECT_EQ(one.exit_code, 0) << one.err;
  fs::remove_all(dir);
}
