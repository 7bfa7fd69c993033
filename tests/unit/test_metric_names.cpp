// One name per metric and one JSON schema, through the real binary: a `layer` and a `model` run
// write every format and record into one store; the CSV headers, the JSON files, the store, the
// `results export` JSON and the report's data all use the same metric names, and the files'
// JSON is the export's JSON record for record.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/writers.hpp"
#include "report/report_data.hpp"
#include "results/results_store.hpp"
#include "unit/results_fixture.hpp"

using namespace moebench;
using moebench::testing::CliResult;
using moebench::testing::expect_bad_input;
using moebench::testing::fresh_temp_dir;
using moebench::testing::run_moebench;
using moebench::testing::slurp;
namespace fs = std::filesystem;

namespace {

const std::string kTinyLayer =
    "layer --manual-config --num-experts 4 --num-experts-per-tok 2 --hidden-size 64 --intermediate-size 64 "
    "--num-tokens 16 --scenarios random,balanced --benchmark-iters 2 --warmup-iters 0 --quiet";
const std::string kTinyModel =
    "model --backend cpu --quiet --model tiny --input-len 8 --output-len 4 --warmup-runs 0 --benchmark-runs 2 "
    "--batch-size 1,2";

std::set<std::string> csv_header(const std::string& csv) {
  std::set<std::string> columns;
  std::stringstream line(csv.substr(0, csv.find('\n')));
  for (std::string c; std::getline(line, c, ',');) columns.insert(c);
  return columns;
}

std::vector<std::string> keys(const nlohmann::json& object) {
  std::vector<std::string> k;
  for (const auto& [key, value] : object.items()) k.push_back(key);
  return k;
}

// The runs of a json-format file or export, without the id the store gives.
nlohmann::json runs_without_ids(const std::string& text) {
  nlohmann::json doc = nlohmann::json::parse(text);
  for (nlohmann::json& run : doc["runs"]) run.erase("id");
  return doc["runs"];
}

struct OneStore : ::testing::Test {
  fs::path dir = fresh_temp_dir("metric-names");
  std::string db = (dir / "results.db").string();
  void TearDown() override { fs::remove_all(dir); }
  void run(const std::string& args, const std::string& base) {
    CliResult r = run_moebench(args + " --output-format all --output-file " + (dir / base).string() +
                               " --results-db " + db);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::vector<RunRecord> stored(const std::string& kind) const {
    RunFilter f;
    f.kind = kind;
    return ResultsStore(db, ResultsStore::OpenMode::must_exist).list(f);
  }
};

}  // namespace

TEST_F(OneStore, LayerNamesAreTheSameInCsvJsonStoreAndReport) {
  run(kTinyLayer, "layer");
  const std::vector<RunRecord> records = stored("layer");
  ASSERT_EQ(records.size(), 2u);
  const std::set<std::string> header = csv_header(slurp(dir / "layer.csv"));
  const nlohmann::json runs = runs_without_ids(slurp(dir / "layer.json"));
  ASSERT_EQ(runs.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(keys(runs[i]["metrics"]), keys(records[i].metrics));
    for (const auto& [name, value] : records[i].metrics.items()) {
      // sgl-jax's column keeps its name for its scripts: the one name that differs, on purpose.
      const std::string column = name == "throughput_tok_per_s" ? "throughput_tok_per_sec" : name;
      EXPECT_TRUE(header.count(column)) << name;
    }
  }
  // The report reads the stored names: every row has its latency and throughput.
  const ReportData data = load_report_data(ResultsStore(db, ResultsStore::OpenMode::must_exist), {});
  ASSERT_EQ(data.layers.size(), records.size());
  for (const LayerRow& row : data.layers) {
    const auto it = std::find_if(records.begin(), records.end(),
                                 [&](const RunRecord& r) { return r.params["scenario"] == row.scenario; });
    ASSERT_NE(it, records.end());
    EXPECT_DOUBLE_EQ(row.mean_ms, it->metrics["latency_mean_ms"].get<double>());
    EXPECT_DOUBLE_EQ(row.p50_ms, it->metrics["latency_p50_ms"].get<double>());
    EXPECT_DOUBLE_EQ(row.throughput_tok_per_s, it->metrics["throughput_tok_per_s"].get<double>());
  }
}

TEST_F(OneStore, ModelNamesAreTheSameInCsvJsonStoreAndReport) {
  run(kTinyModel, "model");
  const std::vector<RunRecord> records = stored("model");
  ASSERT_EQ(records.size(), 2u);
  const std::set<std::string> header = csv_header(slurp(dir / "model.csv"));
  for (const std::string& column : header) {
    if (column == "batch_size" || column == "input_len" || column == "output_len" || column == "status" ||
        column == "decode_launch")
      continue;
    EXPECT_TRUE(records[0].metrics.contains(column)) << column << " is no stored metric";
  }
  const nlohmann::json runs = runs_without_ids(slurp(dir / "model.json"));
  ASSERT_EQ(runs.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) EXPECT_EQ(keys(runs[i]["metrics"]), keys(records[i].metrics));
  for (const char* old_name : {"itl_ms", "ttft_ms", "tpot_ms", "input_tok_per_s", "prefill_tok_per_sec"})
    EXPECT_FALSE(records[0].metrics.contains(old_name)) << old_name;

  const ReportData data = load_report_data(ResultsStore(db, ResultsStore::OpenMode::must_exist), {});
  ASSERT_EQ(data.models.size(), records.size());
  for (const ModelRow& row : data.models) {
    const auto it = std::find_if(records.begin(), records.end(),
                                 [&](const RunRecord& r) { return r.params["batch_size"] == row.batch_size; });
    ASSERT_NE(it, records.end());
    EXPECT_DOUBLE_EQ(row.throughput_tok_per_s, it->metrics["output_throughput_tok_per_s"].get<double>());
  }
}

// `layer --output-format json` and `results export --output-format json` of the same run: one
// schema, one schema_version, the same records but for the id the store gives them.
TEST_F(OneStore, LayerJsonIsTheExportsJson) {
  run(kTinyLayer, "layer");
  CliResult r = run_moebench("results export --output-format json --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json file = nlohmann::json::parse(slurp(dir / "layer.json"));
  const nlohmann::json exported = nlohmann::json::parse(r.out);
  EXPECT_EQ(keys(file), (std::vector<std::string>{"runs", "schema_version"}));
  EXPECT_EQ(file["schema_version"], exported["schema_version"]);
  EXPECT_EQ(file["schema_version"], ResultsStore::current_schema_version());
  EXPECT_EQ(runs_without_ids(slurp(dir / "layer.json")), runs_without_ids(r.out));
}

TEST(OutputFormatFlag, BogusIsBadInputListingTheRegisteredNames) {
  std::string names;
  for (const WriterEntry& w : writer_registry()) names += w.name + ", ";
  for (const std::string& command : {kTinyLayer, kTinyModel})
    expect_bad_input(command + " --no-record --output-format bogus",
                     "--output-format: unknown format 'bogus': use " + names + "all or both");
}
