// --routing-file: loading and checking recorded routing (routing/routing_file.hpp), the logits
// that replay it under a model's router (routing/replay_logits.hpp), and the layer command
// replaying moebench's own export and a hand-written file end to end, load statistics from the
// file and every result verified; bad files exit 2 with one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "core/errors.hpp"
#include "moe/layer_weights.hpp"
#include "routing/replay_logits.hpp"
#include "routing/routing.hpp"
#include "routing/routing_file.hpp"
#include "routing/scenarios.hpp"

namespace fs = std::filesystem;
using moebench::testing::CliResult;
using moebench::testing::expect_bad_input;
using moebench::testing::fresh_temp_dir;
using moebench::testing::run_moebench;
using moebench::testing::slurp;

namespace moebench {
namespace {

ModelConfig model(int E, int k, bool norm, ScoringFunc scoring = ScoringFunc::softmax) {
  ModelConfig m;
  m.name = "test";
  m.hidden_size = 16;
  m.moe_intermediate_size = 16;
  m.num_experts = E;
  m.top_k = k;
  m.norm_topk_prob = norm;
  m.scoring = scoring;
  if (scoring == ScoringFunc::sigmoid) {
    m.n_group = 4;
    m.topk_group = 2;
    m.score_correction_bias = true;
  }
  m.validate(true);
  return m;
}

template <typename T>
void write_raw(const fs::path& p, const std::vector<T>& v) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(T)));
}

// A routing file as bench/record_routing.py writes it: manifest + raw arrays.
fs::path write_file(const fs::path& dir, int E, int k, const Routing& r, const std::vector<float>& logits = {}) {
  write_raw(dir / "layer0.ids.i32", r.expert_ids);
  write_raw(dir / "layer0.weights.f32", r.weights);
  nlohmann::json run = {{"name", "layer0"}, {"num_tokens", r.num_tokens}, {"expert_ids", "layer0.ids.i32"},
                        {"weights", "layer0.weights.f32"}};
  if (!logits.empty()) {
    write_raw(dir / "layer0.logits.f32", logits);
    run["logits"] = "layer0.logits.f32";
  }
  std::ofstream(dir / "manifest.json") << nlohmann::json{{"num_experts", E}, {"top_k", k}, {"runs", {run}}}.dump();
  return dir;
}

std::string load_error(const fs::path& path, const ModelConfig& m) {
  try {
    load_routing_file(path.string(), m);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(RoutingFile, LoadsWhatWasWritten) {
  const fs::path dir = fresh_temp_dir("rf_load");
  const ModelConfig m = model(8, 2, true);
  const std::vector<float> logits = scenario_logits(m, Scenario::random, 10, 1.0, 1);
  const Routing r = route(m, logits.data(), 10, {});
  write_file(dir, 8, 2, r, logits);
  for (const fs::path& p : {dir, dir / "manifest.json"}) {
    const std::vector<RecordedRouting> runs = load_routing_file(p.string(), m);
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].name, "layer0");
    EXPECT_EQ(runs[0].routing.expert_ids, r.expert_ids);
    EXPECT_EQ(runs[0].routing.weights, r.weights);
    EXPECT_EQ(runs[0].logits, logits);
  }
  const RecordedRouting prefix = routing_prefix(load_routing_file(dir.string(), m)[0], 4);
  EXPECT_EQ(prefix.routing.num_tokens, 4);
  EXPECT_EQ(prefix.routing.expert_ids, std::vector<int32_t>(r.expert_ids.begin(), r.expert_ids.begin() + 8));
  EXPECT_EQ(prefix.logits.size(), 32u);
  fs::remove_all(dir);
}

TEST(RoutingFile, BadFilesNameTheProblem) {
  const fs::path dir = fresh_temp_dir("rf_bad");
  const ModelConfig m = model(8, 2, true);
  EXPECT_NE(load_error(dir / "nope", m).find("no such file"), std::string::npos);
  EXPECT_NE(load_error(dir, m).find("no such file"), std::string::npos);  // a directory without manifest
  std::ofstream(dir / "manifest.json") << "{\"num_experts\": 8,";
  EXPECT_NE(load_error(dir, m).find("is not valid JSON"), std::string::npos);

  Routing r;
  r.num_tokens = 2;
  r.top_k = 2;
  r.num_experts = 8;
  r.expert_ids = {0, 1, 2, 3};
  r.weights = {0.5f, 0.5f, 0.6f, 0.4f};
  write_file(dir, 8, 2, r);
  EXPECT_EQ(load_error(dir, m), "");
  EXPECT_NE(load_error(dir, model(16, 2, true)).find("recorded with num_experts 8 and top_k 2, but the model (test) "
                                                     "has 16 and 2"), std::string::npos);
  EXPECT_NE(load_error(dir, model(8, 4, true)).find("top_k 2"), std::string::npos);
  auto with = [&](std::vector<int32_t> ids, std::vector<float> w) {
    Routing bad = r;
    bad.expert_ids = std::move(ids);
    bad.weights = std::move(w);
    write_file(dir, 8, 2, bad);
    return load_error(dir, m);
  };
  EXPECT_NE(with({0, 8, 2, 3}, r.weights).find("token 0: expert id 8 out of range [0, 8)"), std::string::npos);
  EXPECT_NE(with({0, 1, -1, 3}, r.weights).find("token 1: expert id -1"), std::string::npos);
  EXPECT_NE(with({0, 1, 2, 2}, r.weights).find("token 1: expert 2 chosen twice"), std::string::npos);
  EXPECT_NE(with(r.expert_ids, {0.5f, -0.5f, 0.6f, 0.4f}).find("not a finite non-negative"), std::string::npos);
  EXPECT_NE(with(r.expert_ids, {0.5f, NAN, 0.6f, 0.4f}).find("not a finite non-negative"), std::string::npos);
  EXPECT_NE(with(r.expert_ids, {0.5f, 0.5f, 0.6f}).find("holds 12 bytes, expected 16"), std::string::npos);
  fs::remove_all(dir);
}

TEST(ReplayLogits, ReproduceTheRecordedRoutingUnderEveryRouter) {
  for (const ModelConfig& m : {model(8, 2, true), model(16, 4, false), model(16, 3, true, ScoringFunc::sigmoid),
                               model(16, 3, false, ScoringFunc::sigmoid)}) {
    SCOPED_TRACE(::testing::Message() << scoring_name(m.scoring) << " norm " << m.norm_topk_prob);
    const std::vector<float> bias = score_bias_values(m, 4);
    const std::vector<float> source = scenario_logits(m, Scenario::zipf, 200, 1.0, 4);
    RecordedRouting rec;
    rec.name = "x";
    rec.routing = route(m, source.data(), 200, bias);
    // Made from the weights alone: the same experts, the same weights.
    const std::vector<float> logits = replay_logits(m, rec, bias, "f");
    const Routing again = route(m, logits.data(), 200, bias);
    for (int64_t t = 0; t < 200; ++t)
      for (int j = 0; j < m.top_k; ++j) {
        const size_t at = size_t(t * m.top_k + j);
        const auto* begin = rec.routing.expert_ids.data() + t * m.top_k;
        const auto* hit = std::find(begin, begin + m.top_k, again.expert_ids[at]);
        ASSERT_NE(hit, begin + m.top_k) << t;
        EXPECT_NEAR(again.weights[at], rec.routing.weights[size_t(hit - rec.routing.expert_ids.data())], 1e-4) << t;
      }
    // Recorded logits are used as they are.
    rec.logits = source;
    EXPECT_EQ(replay_logits(m, rec, bias, "f"), source);
  }
}

TEST(ReplayLogits, AnotherRoutersWeightsAreRefused) {
  // Softmax top-2 weights without renormalisation (Qwen2-MoE, OLMoE) against a model that renormalises.
  const ModelConfig norm = model(8, 2, true), plain = model(8, 2, false);
  const std::vector<float> source = scenario_logits(plain, Scenario::random, 20, 1.0, 2);
  RecordedRouting rec;
  rec.name = "layer0";
  rec.routing = route(plain, source.data(), 20, {});
  EXPECT_NO_THROW(replay_logits(plain, rec, {}, "f"));
  try {
    replay_logits(norm, rec, {}, "path/x");
    FAIL() << "no throw";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("--routing-file path/x: run 'layer0' token 0: this model's router weighs expert", 0), 0u) << msg;
    EXPECT_NE(msg.find("norm_topk_prob"), std::string::npos) << msg;
  }
}

// ---------------------------------------------------------------- the layer command

const std::string kTiny =
    "layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 64 "
    "--intermediate-size 128 --benchmark-iters 2 --quiet";

// CSV rows: scenario -> (num_tokens, max_load, min_load) of the reference implementation.
struct Row {
  std::string scenario;
  int64_t tokens, max_load, min_load;
};
std::vector<Row> csv_rows(const fs::path& csv) {
  std::vector<Row> rows;
  std::istringstream in(slurp(csv));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    rows.push_back({f[1], std::stoll(f[2]), std::stoll(f[12]), std::stoll(f[13])});
  }
  return rows;
}

TEST(RoutingFileCli, ReplaysItsOwnExportWithTheFilesLoads) {
  const fs::path dir = fresh_temp_dir("rf_cli");
  CliResult a = run_moebench(kTiny + " --num-tokens 48 --scenarios imbalanced,zipf --export-routing '" +
                             (dir / "routing").string() + "' --output-format csv --output-file '" +
                             (dir / "synthetic").string() + "'");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  CliResult b = run_moebench(kTiny + " --routing-file '" + (dir / "routing").string() +
                             "' --output-format csv --output-file '" + (dir / "replayed").string() + "'");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(b.out.find("FAIL"), std::string::npos) << b.out;
  const std::vector<Row> synthetic = csv_rows(dir / "synthetic.csv"), replayed = csv_rows(dir / "replayed.csv");
  ASSERT_EQ(replayed.size(), synthetic.size());
  for (size_t i = 0; i < replayed.size(); ++i) {
    EXPECT_EQ(replayed[i].scenario, "replay:" + synthetic[i].scenario);
    EXPECT_EQ(replayed[i].tokens, 48);
    EXPECT_EQ(replayed[i].max_load, synthetic[i].max_load);
    EXPECT_EQ(replayed[i].min_load, synthetic[i].min_load);
  }
  // --num-tokens: a prefix of each run.
  CliResult c = run_moebench(kTiny + " --routing-file '" + (dir / "routing" / "manifest.json").string() +
                             "' --num-tokens 8,16 --output-format csv --output-file '" + (dir / "prefix").string() + "'");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const std::vector<Row> prefix = csv_rows(dir / "prefix.csv");
  ASSERT_EQ(prefix.size(), 4u);
  EXPECT_EQ(prefix[0].scenario, "replay:imbalanced");
  EXPECT_EQ(prefix[0].tokens, 8);
  EXPECT_EQ(prefix[1].tokens, 16);
  fs::remove_all(dir);
}

TEST(RoutingFileCli, ReplaysAHandWrittenFileOverRanks) {
  // The tiny model: softmax, top-2 renormalised. Expert 5 takes every token.
  const fs::path dir = fresh_temp_dir("rf_ranks");
  Routing r;
  r.num_tokens = 12;
  r.top_k = 2;
  r.num_experts = 8;
  for (int t = 0; t < 12; ++t) {
    r.expert_ids.insert(r.expert_ids.end(), {5, int32_t(t % 5)});
    r.weights.insert(r.weights.end(), {0.75f, 0.25f});
  }
  write_file(dir, 8, 2, r);
  for (const std::string& ranks : {std::string(""), std::string(" --tp-size 2 --ep-size 2")}) {
    SCOPED_TRACE(ranks);
    CliResult c = run_moebench(kTiny + ranks + " --routing-file '" + dir.string() +
                               "' --output-format csv --output-file '" + (dir / "res").string() + "'");
    ASSERT_EQ(c.exit_code, 0) << c.err;
    EXPECT_EQ(c.out.find("FAIL"), std::string::npos) << c.out;
    const std::vector<Row> rows = csv_rows(dir / "res.csv");
    ASSERT_FALSE(rows.empty());
    for (const Row& row : rows) {
      EXPECT_EQ(row.scenario, "replay:layer0");
      EXPECT_EQ(row.tokens, 12);
      EXPECT_EQ(row.max_load, 12);
      EXPECT_EQ(row.min_load, 0);
    }
  }
  fs::remove_all(dir);
}

TEST(RoutingFileCli, BadInputBeforeAnyWork) {
  const fs::path dir = fresh_temp_dir("rf_cli_bad");
  expect_bad_input(kTiny + " --routing-file '" + (dir / "missing").string() + "'", "--routing-file");
  Routing r;
  r.num_tokens = 4;
  r.top_k = 2;
  r.num_experts = 8;
  r.expert_ids = {0, 1, 2, 3, 4, 5, 6, 7};
  r.weights.assign(8, 0.5f);
  write_file(dir, 8, 2, r);
  expect_bad_input(kTiny + " --routing-file '" + dir.string() + "' --num-tokens 5",
                   "--num-tokens 5: the routing file's run 'layer0' holds 4 tokens at most");
  expect_bad_input(kTiny + " --routing-file '" + dir.string() + "' --scenarios random", "choose one");
  expect_bad_input(kTiny + " --routing-file '" + dir.string() + "' --export-routing '" + (dir / "x").string() + "'",
                   "choose one");
  expect_bad_input("layer --backend cpu --manual-config --num-experts 16 --num-experts-per-tok 2 --hidden-size 64 "
                   "--intermediate-size 128 --routing-file '" + dir.string() + "'",
                   "recorded with num_experts 8");
  write_file(dir, 8, 2, Routing{4, 2, 8, {0, 1, 2, 9, 4, 5, 6, 7}, std::vector<float>(8, 0.5f)});
  expect_bad_input(kTiny + " --routing-file '" + dir.string() + "'", "expert id 9 out of range");
  // Weights that do not sum to one: not what this model's renormalising router gives.
  write_file(dir, 8, 2, Routing{4, 2, 8, {0, 1, 2, 3, 4, 5, 6, 7}, std::vector<float>(8, 0.3f)});
  expect_bad_input(kTiny + " --routing-file '" + dir.string() + "'", "recorded from another router");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace moebench
