// The layer writers (terminal table, CSV, Markdown, JSON) read back, and the output files.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/layer_records.hpp"
#include "bench/layer_writers.hpp"
#include "bench/writers.hpp"
#include "cli_runner.hpp"
#include "core/errors.hpp"
#include "core/output_files.hpp"
#include "results/results_store.hpp"

namespace fs = std::filesystem;
using moebench::InputError;
using moebench::LayerReportContext;
using moebench::LayerResult;
using moebench::testing::fresh_temp_dir;
using moebench::testing::slurp;

namespace {

const std::string kModel = "my,model \"v2\"";  // a comma and quotes: CSV must quote it

LayerResult make_result(const std::string& impl, const std::string& scenario, int64_t tokens, double mean_ms) {
  LayerResult r;
  r.model = kModel;
  r.impl = impl;
  r.scenario = scenario;
  r.backend = "cuda";
  r.device = "NVIDIA H100 80GB HBM3";
  r.dtype = "bf16";
  r.num_tokens = tokens;
  r.ep_size = 8;
  r.tp_size = 1;
  r.num_experts = 60;
  r.top_k = 8;
  r.hidden_size = 2048;
  r.intermediate_size = 768;
  r.latency_ms = {10, mean_ms, 0.1234, mean_ms * 0.99, mean_ms * 1.1, mean_ms * 1.2, mean_ms * 0.9, mean_ms * 1.3};
  r.throughput_tok_per_sec = double(tokens) / (mean_ms * 1e-3);
  r.load = {150, 130, 140.5, 1.0676, 0, 60};
  r.flops = 2.0 * double(tokens) * 8 * 3 * 2048 * 768;
  r.bytes_min = 60.0 * 3 * 2048 * 768 * 2 + 2.0 * double(tokens) * 2048 * 2;
  r.tflops = r.flops / (mean_ms * 1e-3) / 1e12;
  r.gbps = r.bytes_min / (mean_ms * 1e-3) / 1e9;
  r.floor_ms = 0.5;
  r.efficiency = r.floor_ms / r.latency_ms.p50;
  r.verified = true;
  r.verify_passed = true;
  r.verify_error = 3.25e-3;
  r.verify_tokens = 64;
  r.peak_memory_bytes = 123456789012;
  return r;
}

// Interleaved on purpose: the writers must group by scenario, then tokens, in first-seen order.
std::vector<LayerResult> sample_results() {
  LayerResult naive_random = make_result("naive", "random", 128, 2.0);
  naive_random.floor_ms = NAN;  // no ceilings: no roofline
  naive_random.efficiency = NAN;
  naive_random.counters = {{"tiles", 42}, {"bytes_moved", 1.5e9}};
  naive_random.latency_ms.p50 = 0.00123456;  // far below 1 ms: still 1e-4 relative in CSV

  LayerResult naive_imbalanced = make_result("naive", "imbalanced", 1024, 3.0);
  naive_imbalanced.verified = false;  // not checked: no verdict, no error
  naive_imbalanced.verify_passed = false;
  naive_imbalanced.verify_error = NAN;
  naive_imbalanced.verify_tokens = 0;

  LayerResult grouped_random = make_result("grouped", "random", 128, 1.0);
  grouped_random.latency_ms.mean = 1.0;
  grouped_random.latency_ms.p95 = 1234.56789;

  LayerResult grouped_imbalanced = make_result("grouped", "imbalanced", 1024, 1.5);
  grouped_imbalanced.verify_passed = false;
  grouped_imbalanced.verify_error = 0.25;
  grouped_imbalanced.unwritten_outputs = 7;
  grouped_imbalanced.load.max_imbalance = 3.12;
  return {naive_random, naive_imbalanced, grouped_random, grouped_imbalanced};
}

LayerReportContext sample_context() {
  LayerReportContext c;
  c.model = kModel;
  c.num_experts = 60;
  c.top_k = 8;
  c.hidden_size = 2048;
  c.intermediate_size = 768;
  c.ep_size = 8;
  c.tp_size = 1;
  c.dtype = "bf16";
  c.backend = "cuda";
  c.device = "NVIDIA H100 80GB HBM3";
  c.moebench_version = "0.1.0 (abcdef123456)";
  c.date = "2025-01-02";
  c.copy_gbps = 2950;
  c.gemm_tflops = NAN;
  c.command_line = "moebench layer --model 'my,model' --output-format all";
  return c;
}

// The records `layer` stores for sample_results() in sample_context()'s run.
std::vector<moebench::RunRecord> sample_records() {
  const LayerReportContext c = sample_context();
  moebench::RecordContext rc;
  rc.environment.backend = c.backend;
  rc.environment.device = c.device;
  rc.environment.moebench_version = "0.1.0";
  rc.environment.git_revision = "abcdef123456";
  rc.command_line = c.command_line;
  rc.group_id = "layer-test";
  rc.started_at = c.date + "T10:00:00Z";
  const nlohmann::ordered_json details = {{"num_experts", c.num_experts},    {"top_k", c.top_k},
                                          {"hidden_size", c.hidden_size},    {"intermediate_size", c.intermediate_size},
                                          {"num_shared_experts", 0},         {"copy_gbps", c.copy_gbps},
                                          {"gemm_tflops", nullptr}};
  return moebench::layer_records(sample_results(), rc, details);
}

std::string write_layer(const std::string& format, const std::vector<moebench::RunRecord>& records) {
  return moebench::parse_writers(format).front()->writer->write(records, {moebench::RecordLayout::layer, ""}).front();
}

// RFC 4180: fields separated by commas, optionally quoted; a quote inside a quoted field is
// doubled; quoted fields may hold commas and line breaks. Records end with \n or \r\n.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      EXPECT_TRUE(field.empty()) << "quote inside an unquoted field at " << i;
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(field);
      rows.push_back(row);
      row.clear();
      field.clear();
    } else {
      field += c;
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quoted field";
  EXPECT_TRUE(row.empty() && field.empty()) << "last record has no line end";
  return rows;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> words(const std::string& line) {
  std::stringstream ss(line);
  std::vector<std::string> w;
  for (std::string s; ss >> s;) w.push_back(s);
  return w;
}

void expect_close(const std::string& field, double expected, const std::string& what) {
  ASSERT_FALSE(field.empty()) << what;
  size_t used = 0;
  const double v = std::stod(field, &used);
  EXPECT_EQ(used, field.size()) << what << ": '" << field << "'";
  EXPECT_LE(std::fabs(v - expected), 1e-4 * std::fabs(expected)) << what << ": '" << field << "' vs " << expected;
}

std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

const std::vector<std::string> kSeedColumns = {
    "implementation", "scenario",       "num_tokens",     "ep_size",         "tp_size",        "num_experts",
    "num_experts_per_tok", "latency_mean_ms", "latency_std_ms", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
    "max_load",       "min_load",       "avg_load",       "max_imbalance",   "throughput_tok_per_sec"};

const std::vector<std::string> kOurColumns = {
    "model",          "backend",         "device",          "dtype",         "hidden_size",       "intermediate_size",
    "latency_min_ms", "latency_max_ms",  "iterations",      "flops",         "bytes_min",         "tflops",
    "gbps",           "floor_ms",        "efficiency",      "unused_experts", "active_experts",   "verified",
    "verify_passed",  "verify_rel_error", "verify_tokens",  "unwritten_outputs", "peak_memory_bytes", "launch", "counters",
    "fp8_scaling",    "fp8_vs_bf16_rel_error"};

// ---------------------------------------------------------------------------------------- CSV

TEST(LayerCsv, HeaderIsSeed003ThenOurs) {
  auto rows = parse_csv(moebench::layer_results_csv(sample_results(), sample_context()));
  ASSERT_EQ(rows.size(), 5u);
  const std::vector<std::string>& header = rows[0];
  ASSERT_EQ(header.size(), kSeedColumns.size() + kOurColumns.size());
  EXPECT_TRUE(std::equal(kSeedColumns.begin(), kSeedColumns.end(), header.begin()));
  EXPECT_TRUE(std::equal(kOurColumns.begin(), kOurColumns.end(), header.begin() + std::ptrdiff_t(kSeedColumns.size())));
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_EQ(rows[i].size(), header.size()) << "row " << i;
}

TEST(LayerCsv, ValuesReadBack) {
  const std::vector<LayerResult> results = sample_results();
  auto rows = parse_csv(moebench::layer_results_csv(results, sample_context()));
  ASSERT_EQ(rows.size(), results.size() + 1);
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < rows[0].size(); ++i) col[rows[0][i]] = i;

  for (size_t i = 0; i < results.size(); ++i) {
    SCOPED_TRACE("row " + std::to_string(i));
    const LayerResult& r = results[i];
    const std::vector<std::string>& f = rows[i + 1];
    auto at = [&](const std::string& name) { return f.at(col.at(name)); };
    EXPECT_EQ(at("implementation"), r.impl);  // CSV keeps the results' order
    EXPECT_EQ(at("scenario"), r.scenario);
    EXPECT_EQ(at("model"), kModel);
    EXPECT_EQ(at("device"), r.device);
    EXPECT_EQ(at("num_tokens"), std::to_string(r.num_tokens));
    EXPECT_EQ(at("num_experts_per_tok"), "8");
    EXPECT_EQ(at("max_load"), "150");
    EXPECT_EQ(at("iterations"), "10");
    EXPECT_EQ(at("peak_memory_bytes"), "123456789012");
    EXPECT_EQ(at("launch"), "eager");
    expect_close(at("latency_mean_ms"), r.latency_ms.mean, "mean");
    expect_close(at("latency_std_ms"), r.latency_ms.std, "std");
    expect_close(at("latency_p50_ms"), r.latency_ms.p50, "p50");
    expect_close(at("latency_p95_ms"), r.latency_ms.p95, "p95");
    expect_close(at("latency_p99_ms"), r.latency_ms.p99, "p99");
    expect_close(at("latency_min_ms"), r.latency_ms.min, "min");
    expect_close(at("latency_max_ms"), r.latency_ms.max, "max");
    expect_close(at("avg_load"), r.load.avg_load, "avg_load");
    expect_close(at("max_imbalance"), r.load.max_imbalance, "max_imbalance");
    expect_close(at("throughput_tok_per_sec"), r.throughput_tok_per_sec, "throughput");
    expect_close(at("flops"), r.flops, "flops");
    expect_close(at("bytes_min"), r.bytes_min, "bytes_min");
    expect_close(at("tflops"), r.tflops, "tflops");
    expect_close(at("gbps"), r.gbps, "gbps");
    if (std::isnan(r.floor_ms)) {
      EXPECT_EQ(at("floor_ms"), "");
      EXPECT_EQ(at("efficiency"), "");
    } else {
      expect_close(at("floor_ms"), r.floor_ms, "floor_ms");
      expect_close(at("efficiency"), r.efficiency, "efficiency");
    }
    EXPECT_EQ(at("verified"), r.verified ? "true" : "false");
    if (r.verified) {
      EXPECT_EQ(at("verify_passed"), r.verify_passed ? "true" : "false");
      expect_close(at("verify_rel_error"), r.verify_error, "verify_rel_error");
    } else {
      EXPECT_EQ(at("verify_passed"), "");
      EXPECT_EQ(at("verify_rel_error"), "");
    }
    EXPECT_EQ(at("unwritten_outputs"), std::to_string(r.unwritten_outputs));
  }
  EXPECT_EQ(rows[1].at(col.at("counters")), "tiles=42;bytes_moved=1.5e+09");
  EXPECT_EQ(rows[2].at(col.at("counters")), "");
}

TEST(LayerCsv, Seed003NumberStyle) {
  // Latencies of a millisecond or more have seed 003's 4 decimals; the model name is quoted.
  LayerResult r = make_result("fused", "random", 1024, 2.3456);
  r.latency_ms.p95 = 2.5;
  const std::string csv = moebench::layer_results_csv({r}, sample_context());
  EXPECT_NE(csv.find("fused,random,1024,8,1,60,8,2.3456,0.1234,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",2.5000,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",150,130,140.5,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",\"my,model \"\"v2\"\"\","), std::string::npos) << csv;
}

TEST(LayerCsv, NoResultsIsHeaderOnly) {
  auto rows = parse_csv(moebench::layer_results_csv({}, sample_context()));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].front(), "implementation");
}

// -------------------------------------------------------------------------------------- Records

TEST(LayerRecords, WritersMakeTheSameFilesFromTheRecords) {
  const std::vector<moebench::RunRecord> records = sample_records();
  for (size_t i = 0; i < records.size(); ++i) {
    const LayerResult back = moebench::layer_result_from_record(records[i]);
    EXPECT_EQ(moebench::layer_results_csv({back}, sample_context()),
              moebench::layer_results_csv({sample_results()[i]}, sample_context()))
        << "row " << i;
  }
  EXPECT_EQ(write_layer("csv", records), moebench::layer_results_csv(sample_results(), sample_context()));
  EXPECT_EQ(write_layer("markdown", records), moebench::layer_results_markdown(sample_results(), sample_context()));
  EXPECT_EQ(moebench::layer_result_from_record(records[0]).counters, sample_results()[0].counters);
  EXPECT_EQ(moebench::layer_result_from_record(records[0]).load.expert_loads, sample_results()[0].load.expert_loads);
}

// --------------------------------------------------------------------------------------- JSON

TEST(LayerJson, OneFlatRecordPerResultWithNulls) {
  const std::vector<LayerResult> results = sample_results();
  const nlohmann::json doc = nlohmann::json::parse(write_layer("json", sample_records()));
  EXPECT_EQ(doc.at("schema_version"), moebench::ResultsStore::current_schema_version());
  const auto& list = doc.at("runs");
  ASSERT_EQ(list.size(), results.size());
  const auto& first = list[0];
  EXPECT_EQ(first.at("kind"), "layer");
  EXPECT_EQ(first.at("model"), kModel);
  EXPECT_EQ(first.at("status"), "success");
  EXPECT_EQ(first.at("environment").at("moebench_version"), "0.1.0");
  EXPECT_EQ(first.at("environment").at("git_revision"), "abcdef123456");
  EXPECT_EQ(first.at("environment").at("device"), "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(first.at("command_line"), sample_context().command_line);
  EXPECT_EQ(first.at("started_at"), "2025-01-02T10:00:00Z");

  const auto& params = first.at("params");
  EXPECT_EQ(params.at("impl"), "naive");
  EXPECT_EQ(params.at("scenario"), "random");
  EXPECT_EQ(params.at("num_tokens"), 128);
  EXPECT_EQ(params.at("ep_size"), 8);

  const auto& metrics = first.at("metrics");
  EXPECT_DOUBLE_EQ(metrics.at("latency_mean_ms").get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(metrics.at("latency_p50_ms").get<double>(), 0.00123456);
  for (const char* key : {"latency_std_ms", "latency_p95_ms", "latency_p99_ms", "latency_min_ms", "latency_max_ms",
                          "throughput_tok_per_s", "tflops", "gbps"})
    EXPECT_TRUE(metrics.at(key).is_number()) << key;
  EXPECT_TRUE(metrics.at("floor_ms").is_null());
  EXPECT_TRUE(metrics.at("efficiency").is_null());

  const auto& details = first.at("details");
  EXPECT_EQ(details.at("num_experts"), 60);
  EXPECT_EQ(details.at("top_k"), 8);
  EXPECT_EQ(details.at("hidden_size"), 2048);
  EXPECT_EQ(details.at("num_shared_experts"), 0);
  EXPECT_DOUBLE_EQ(details.at("copy_gbps").get<double>(), 2950);
  EXPECT_TRUE(details.at("gemm_tflops").is_null());
  EXPECT_EQ(details.at("peak_memory_bytes"), 123456789012);
  EXPECT_EQ(details.at("iterations"), 10);
  EXPECT_DOUBLE_EQ(details.at("flops").get<double>(), results[0].flops);
  EXPECT_EQ(details.at("load").at("max_load"), 150);
  EXPECT_DOUBLE_EQ(details.at("load").at("avg_load").get<double>(), 140.5);
  EXPECT_EQ(details.at("load").at("active_experts"), 60);
  EXPECT_EQ(details.at("counters").at("tiles"), 42);
  EXPECT_DOUBLE_EQ(details.at("counters").at("bytes_moved").get<double>(), 1.5e9);
  EXPECT_EQ(details.at("verify").at("checked"), true);

  EXPECT_TRUE(list[1].at("metrics").at("verify_rel_error").is_null());  // not checked
  EXPECT_EQ(list[1].at("details").at("verify").at("checked"), false);
  EXPECT_TRUE(list[1].at("details").at("counters").is_object());
  EXPECT_DOUBLE_EQ(list[2].at("metrics").at("floor_ms").get<double>(), 0.5);
  EXPECT_EQ(list[3].at("status"), "failure");  // failed verification
  EXPECT_EQ(list[3].at("error_type"), "VerificationFailed");
  EXPECT_EQ(list[3].at("details").at("verify").at("passed"), false);
  EXPECT_DOUBLE_EQ(list[3].at("metrics").at("verify_rel_error").get<double>(), 0.25);
  EXPECT_EQ(list[3].at("details").at("verify").at("unwritten_outputs"), 7);
}

TEST(LayerJson, InvalidUtf8DoesNotThrow) {
  std::vector<moebench::RunRecord> records = sample_records();
  records[0].environment.device = "GPU \xff\xfe";
  EXPECT_NO_THROW(nlohmann::json::parse(write_layer("json", records)));
}

// ----------------------------------------------------------------------------------- Markdown

TEST(LayerMarkdown, Seed003Layout) {
  const std::string md = moebench::layer_results_markdown(sample_results(), sample_context());
  EXPECT_EQ(md.rfind("# MoE Benchmark Results\n**Configuration:** 60 experts, top-8, EP=8, TP=1\n", 0), 0u) << md;
  const size_t random = md.find("\n## Scenario: random, Tokens: 128\n");
  const size_t imbalanced = md.find("\n## Scenario: imbalanced, Tokens: 1024\n");
  ASSERT_NE(random, std::string::npos) << md;
  ASSERT_NE(imbalanced, std::string::npos) << md;
  EXPECT_LT(random, imbalanced);
  EXPECT_NE(md.find("| Metric | naive | grouped | Speedup |\n|-"), std::string::npos) << md;
  // Speedup: the first implementation's mean over the fastest other's.
  EXPECT_NE(md.find("| Mean Latency (ms) | 2.0000 | 1.0000 | 2.00x (grouped) |\n"), std::string::npos) << md;
  // grouped failed verification at imbalanced: no speedup is claimed there.
  EXPECT_NE(md.find("| Mean Latency (ms) | 3.0000 | 1.5000 | - |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| Max Imbalance | 1.07x | 3.12x | - |"), std::string::npos) << md;
  EXPECT_NE(md.find("| Efficiency (floor/time) | - |"), std::string::npos) << md;  // NaN floor
  EXPECT_NE(md.find("| Verification | - | **FAIL** (2.5e-01, 7 unwritten) | - |"), std::string::npos) << md;
  EXPECT_NE(md.find("| Verification | ok (3.2e-03) |"), std::string::npos) << md;
  for (const char* row : {"| P95 Latency (ms) |", "| Throughput (tok/s) |", "| TFLOP/s |"})
    EXPECT_NE(md.find(row), std::string::npos) << row;
  EXPECT_NE(md.find("**Ceilings:** copy 2950 GB/s, GEMM not measured;"), std::string::npos) << md;
  EXPECT_NE(md.find("1 of 3 checked results **FAILED**"), std::string::npos) << md;
  EXPECT_NE(md.find("2025-01-02"), std::string::npos);
  EXPECT_NE(md.find("`moebench layer --model 'my,model' --output-format all`"), std::string::npos) << md;

  // Every line of a table has as many cells as its header.
  size_t pipes = 0;
  for (const std::string& line : split_lines(md)) {
    if (line.empty() || line[0] != '|') {
      pipes = 0;
      continue;
    }
    const size_t n = size_t(std::count(line.begin(), line.end(), '|'));
    if (pipes == 0) pipes = n;
    EXPECT_EQ(n, pipes) << line;
  }
}

TEST(LayerMarkdown, SpeedupPicksTheFastestOtherAndOneImplHasNone) {
  std::vector<LayerResult> three = {make_result("naive", "balanced", 64, 2.0), make_result("a", "balanced", 64, 1.5),
                                    make_result("b", "balanced", 64, 0.8)};
  const std::string md = moebench::layer_results_markdown(three, sample_context());
  EXPECT_NE(md.find("| Mean Latency (ms) | 2.0000 | 1.5000 | 0.8000 | 2.50x (b) |"), std::string::npos) << md;

  const std::string one =
      moebench::layer_results_markdown({make_result("naive", "balanced", 64, 2.0)}, sample_context());
  EXPECT_NE(one.find("| Metric | naive | Speedup |"), std::string::npos) << one;
  EXPECT_NE(one.find("| Mean Latency (ms) | 2.0000 | - |"), std::string::npos) << one;
}

TEST(LayerMarkdown, CeilingsOnlyWhenKnownAndCellsEscaped) {
  LayerReportContext c = sample_context();
  c.copy_gbps = NAN;
  LayerResult r = make_result("a|b", "random", 64, 1.0);
  const std::string md = moebench::layer_results_markdown({r}, c);
  EXPECT_EQ(md.find("Ceilings"), std::string::npos) << md;
  EXPECT_NE(md.find("| Metric | a\\|b | Speedup |"), std::string::npos) << md;
}

// -------------------------------------------------------------------------------- Terminal table

TEST(LayerTable, AlignedGroupedAndChecked) {
  const std::string table = moebench::format_layer_table(sample_results(), sample_context());
  std::vector<std::string> lines = split_lines(table);
  const auto header = std::find_if(lines.begin(), lines.end(),
                                   [](const std::string& l) { return l.rfind("# scenario", 0) == 0; });
  ASSERT_NE(header, lines.end()) << table;
  std::vector<std::string> rows, between, notes;
  for (auto it = header + 1; it != lines.end(); ++it) {
    if (it->empty())
      between.push_back(*it);
    else
      (it->rfind("# ", 0) == 0 ? notes : rows).push_back(*it);
  }
  ASSERT_EQ(rows.size(), 4u) << table;
  // Counters come after the rows, one line per result that has them.
  ASSERT_EQ(notes.size(), 1u) << table;
  EXPECT_EQ(notes[0], "# naive random tokens=128: tiles=42, bytes_moved=1.5e+09");
  EXPECT_EQ(between.size(), 1u) << table;  // one blank line between the two groups
  for (const std::string& row : rows) {
    EXPECT_EQ(row.size(), header->size()) << "\n" << *header << "\n" << row;
    EXPECT_EQ(row.back() == ' ', false) << row;
  }
  // Numbers are right-aligned under their titles.
  for (const char* title : {"tokens", "mean ms", "p95 ms", "tok/s", "eff", "rel err", "check"}) {
    const size_t end = header->find(title) + std::char_traits<char>::length(title);
    for (const std::string& row : rows) {
      EXPECT_NE(row[end - 1], ' ') << title << ": " << row;
      if (end < row.size()) {
        EXPECT_EQ(row[end], ' ') << title << ": " << row;
      }
    }
  }
  // Grouped by scenario in first-seen order, implementations in run order.
  const std::vector<std::string> w0 = words(rows[0]), w1 = words(rows[1]), w2 = words(rows[2]), w3 = words(rows[3]);
  for (const auto* w : {&w0, &w1, &w2, &w3}) ASSERT_EQ(w->size(), 15u);
  EXPECT_EQ(w0[0] + " " + w0[2], "random naive");
  EXPECT_EQ(w1[0] + " " + w1[2], "random grouped");
  EXPECT_EQ(w2[0] + " " + w2[2], "imbalanced naive");
  EXPECT_EQ(w3[0] + " " + w3[2], "imbalanced grouped");
  EXPECT_EQ(w0[3], "eager");
  EXPECT_EQ(w0[4], "2.0000");
  EXPECT_EQ(w0[10], "-");  // NaN floor
  EXPECT_EQ(w0[11], "-");
  EXPECT_EQ(w0[14], "ok");
  EXPECT_EQ(w1[10], "0.5000");
  EXPECT_EQ(w2[13], "-");  // not checked
  EXPECT_EQ(w2[14], "-");
  EXPECT_EQ(w3[12], "3.12x");
  EXPECT_EQ(w3[13], "2.5e-01");
  EXPECT_EQ(w3[14], "FAIL");
}

TEST(LayerTable, AParallelRunsExchangeCeilingsStandUnderTheCeilings) {
  LayerReportContext c = sample_context();
  EXPECT_EQ(moebench::format_layer_table(sample_results(), c).find("exchange"), std::string::npos)
      << "one device: no exchange line";
  c.exchange_ceilings = "exchange ceilings: all-to-all busbw 350.1 GB/s, all-reduce busbw 480.2 GB/s (nccl, 8 ranks, "
                        "256 MiB, nccl-tests' busbw)";
  const std::vector<std::string> lines = split_lines(moebench::format_layer_table(sample_results(), c));
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[1].rfind("# cuda on NVIDIA H100 80GB HBM3; ceilings: ", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2], "# " + c.exchange_ceilings);
}

TEST(LayerTable, OneImplementationSeparatesScenariosOnly) {
  std::vector<LayerResult> rs = {make_result("naive", "random", 16, 1.0), make_result("naive", "random", 32, 1.0),
                                 make_result("naive", "balanced", 16, 1.0)};
  const std::string table = moebench::format_layer_table(rs, sample_context());
  EXPECT_NE(table.find("\n\n"), std::string::npos);
  const size_t header = table.find("# scenario");
  EXPECT_EQ(std::count(table.begin() + std::ptrdiff_t(header), table.end(), '\n'), 5);  // header, 2 rows, blank, 1
  EXPECT_NE(moebench::format_layer_table({}, sample_context()).find("no results"), std::string::npos);
}

TEST(LayerTable, SideBySideImplementationsSeparateEveryGroup) {
  std::vector<LayerResult> rs = {make_result("naive", "random", 16, 1.0), make_result("grouped", "random", 16, 1.0),
                                 make_result("naive", "random", 32, 1.0), make_result("grouped", "random", 32, 1.0)};
  const std::string table = moebench::format_layer_table(rs, sample_context());
  const std::string rows = table.substr(table.find("# scenario"));
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 6) << table;  // header, 2 rows, blank, 2 rows
  EXPECT_NE(rows.find("\n\n"), std::string::npos) << table;
}

// -------------------------------------------------------------------------------- Output files

// Writes a stand-in text per file of `format` ("CSV\n" for .csv, ...) where the registry puts
// them: the paths and the all-or-nothing writing, whatever the writers' texts.
std::vector<std::string> write_format(const std::string& format, const fs::path& base,
                                      const std::string& json_text = "JSON\n") {
  const std::vector<std::string> paths = moebench::writer_paths(moebench::parse_writers(format), base.string());
  std::vector<std::pair<std::string, std::string>> files;
  for (const std::string& path : paths) {
    const std::string ext = fs::path(path).extension().string();
    files.emplace_back(path, ext == ".csv" ? "CSV\n" : ext == ".json" || ext == ".JSON" ? json_text : "MD\n");
  }
  moebench::write_files(files, "--output-file");
  return paths;
}

struct OutputFiles : ::testing::Test {
  fs::path dir = fresh_temp_dir("writers");
  void TearDown() override { fs::remove_all(dir); }
  std::vector<std::string> write(const std::string& format, const fs::path& base) { return write_format(format, base); }
};

TEST_F(OutputFiles, AllFormatsWrittenWithNothingElse) {
  const auto paths = write("all", dir / "res");
  const std::vector<std::string> expected = {(dir / "res.csv").string(), (dir / "res.md").string(),
                                             (dir / "res.json").string()};
  EXPECT_EQ(paths, expected);
  EXPECT_EQ(slurp(dir / "res.csv"), "CSV\n");
  EXPECT_EQ(slurp(dir / "res.md"), "MD\n");
  EXPECT_EQ(slurp(dir / "res.json"), "JSON\n");
  EXPECT_EQ(entries(dir), (std::set<std::string>{"res.csv", "res.md", "res.json"}));  // no temporary left
}

TEST_F(OutputFiles, BothIsCsvAndMarkdown) {
  const auto paths = write("both", dir / "benchmark_results");
  EXPECT_EQ(paths.size(), 2u);
  EXPECT_EQ(entries(dir), (std::set<std::string>{"benchmark_results.csv", "benchmark_results.md"}));
}

TEST_F(OutputFiles, ExtensionsNotDoubledForOneFormat) {
  EXPECT_EQ(write("csv", dir / "a.csv"), std::vector<std::string>{(dir / "a.csv").string()});
  EXPECT_EQ(write("markdown", dir / "b.md"), std::vector<std::string>{(dir / "b.md").string()});
  EXPECT_EQ(write("markdown", dir / "c.markdown"), std::vector<std::string>{(dir / "c.markdown").string()});
  EXPECT_EQ(write("json", dir / "d.JSON"), std::vector<std::string>{(dir / "d.JSON").string()});
  EXPECT_EQ(write("json", dir / "e.csv"), std::vector<std::string>{(dir / "e.csv.json").string()});
  // Several formats: every file gets its own extension after the base.
  EXPECT_EQ(moebench::writer_paths(moebench::parse_writers("both"), (dir / "f.csv").string()),
            (std::vector<std::string>{(dir / "f.csv.csv").string(), (dir / "f.csv.md").string()}));
  EXPECT_EQ(slurp(dir / "c.markdown"), "MD\n");
}

TEST_F(OutputFiles, ReplacesAnExistingFileWithItsMode) {
  std::ofstream(dir / "res.csv") << "old content that is longer than the new\n";
  ::chmod((dir / "res.csv").c_str(), 0640);
  write("csv", dir / "res");
  EXPECT_EQ(slurp(dir / "res.csv"), "CSV\n");
  struct stat st;
  ASSERT_EQ(::stat((dir / "res.csv").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_F(OutputFiles, NewFileGetsUmaskMode) {
  const mode_t old = ::umask(022);
  write("json", dir / "res");
  ::umask(old);
  struct stat st;
  ASSERT_EQ(::stat((dir / "res.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);  // not mkstemp's 0600
}

TEST_F(OutputFiles, MissingDirectoryLeavesNothing) {
  const fs::path base = dir / "missing" / "res";
  try {
    write("all", base);
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "--output-file: cannot write " + (dir / "missing" / "res.csv").string() +
                                         ": No such file or directory");
  }
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST_F(OutputFiles, ParentIsAFile) {
  std::ofstream(dir / "file") << "x";
  EXPECT_THROW(write("csv", dir / "file" / "res"), InputError);
  EXPECT_EQ(entries(dir), std::set<std::string>{"file"});
}

TEST_F(OutputFiles, AllOrNothing) {
  // The JSON target cannot be written (a directory is there): the CSV and Markdown must not
  // be written either, and no temporary file may be left.
  fs::create_directory(dir / "res.json");
  std::ofstream(dir / "res.csv") << "previous";
  try {
    write("all", dir / "res");
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write " + (dir / "res.json").string()), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(entries(dir), (std::set<std::string>{"res.csv", "res.json"}));
  EXPECT_EQ(slurp(dir / "res.csv"), "previous");
}

TEST_F(OutputFiles, FailedWriteRemovesEveryTemporary) {
  // A file size limit makes the JSON fail after the CSV and Markdown temporaries are written
  // in full: those must go too, and the existing CSV stay as it was.
  std::ofstream(dir / "res.csv") << "previous";
  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limit = old_limit;
  limit.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  std::string error;
  try {
    write_format("all", dir / "res", std::string(10000, 'j'));
  } catch (const InputError& e) {
    error = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(error, "--output-file: cannot write " + (dir / "res.json").string() + ": File too large");
  EXPECT_EQ(entries(dir), std::set<std::string>{"res.csv"});
  EXPECT_EQ(slurp(dir / "res.csv"), "previous");
}

TEST_F(OutputFiles, BadBasePaths) {
  EXPECT_THROW(write("csv", ""), InputError);
  EXPECT_THROW(write("csv", dir), InputError);  // a directory, not a base path
  EXPECT_THROW(write("csv", dir.string() + "/"), InputError);
  EXPECT_TRUE(fs::is_empty(dir));
}

}  // namespace
