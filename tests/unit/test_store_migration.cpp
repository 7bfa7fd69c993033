// The store migration to one name per metric: a store written before it (schema version 1, the
// old names) is opened, renamed in place with its key order kept, and still compares.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "results/compare.hpp"
#include "results/results_store.hpp"
#include "results/store_schema.hpp"
#include "unit/results_fixture.hpp"

using namespace moebench;
using moebench::testing::fresh_db_path;

namespace {

void exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "") << "\n" << sql;
}

// A run row as version 1 stored it: compact JSON, old metric names.
std::string old_row(const std::string& kind, const std::string& config, const std::string& metrics) {
  return "INSERT INTO runs (kind, model, config, status, error_type, error_message, params, metrics, details, host, "
         "backend, device, driver_version, cuda_version, moebench_version, git_revision, command_line, group_id, "
         "started_at, finished_at) VALUES ('" +
         kind + "', 'm', '" + config + "', 'success', '', '', '{}', '" + metrics +
         "', '{}', 'h', 'cpu', 'd', '', '', '0.1', 'abc', 'moebench', 'g', '2025-11-27T23:45:12Z', "
         "'2025-11-27T23:45:13Z')";
}

std::vector<std::string> keys(const nlohmann::ordered_json& object) {
  std::vector<std::string> k;
  for (const auto& [key, value] : object.items()) k.push_back(key);
  return k;
}

}  // namespace

TEST(StoreMigration, Version1MetricNamesAreRenamedInOrder) {
  const std::string path = fresh_db_path("store-v1");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  exec(db, "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1)");
  exec(db, store_migrations().at(0));
  exec(db, old_row("model", "bs1",
                   R"({"latency_s":7.59,"input_throughput_tok_per_s":15933.87,"output_throughput_tok_per_s":69.81,)"
                   R"("itl_ms":14.32,"ttft_ms":250.5,"ttft_std_ms":1.5,"tpot_ms":14.0,"tpot_std_ms":0.2,)"
                   R"("tpot_floor_ms":10.0,"itl_p50_ms":14.1,"itl_p99_ms":16.0})"));
  exec(db, old_row("model", "bs2",
                   R"({"latency_s":7.0,"input_throughput_tok_per_s":17000.0,"output_throughput_tok_per_s":75.0,)"
                   R"("itl_ms":13.0,"ttft_ms":240.0,"ttft_std_ms":1.5,"tpot_ms":13.0,"tpot_std_ms":0.2,)"
                   R"("tpot_floor_ms":10.0,"itl_p50_ms":13.1,"itl_p99_ms":15.0})"));
  exec(db, old_row("layer", "l", R"({"latency_mean_ms":1.5,"throughput_tok_per_s":1000.0,"verify_error":0.001})"));
  sqlite3_close(db);

  ResultsStore store(path);
  EXPECT_EQ(store.schema_version(), ResultsStore::current_schema_version());
  const RunRecord model = *store.find(1);
  EXPECT_EQ(keys(model.metrics),
            (std::vector<std::string>{"latency_s", "input_throughput_tok_per_s", "output_throughput_tok_per_s",
                                      "mean_itl_ms", "mean_ttft_ms", "std_ttft_ms", "mean_tpot_ms", "std_tpot_ms",
                                      "tpot_floor_ms", "median_itl_ms", "p99_itl_ms"}));
  EXPECT_DOUBLE_EQ(model.metrics["mean_itl_ms"].get<double>(), 14.32);
  EXPECT_DOUBLE_EQ(model.metrics["mean_ttft_ms"].get<double>(), 250.5);
  const RunRecord layer = *store.find(3);
  EXPECT_EQ(keys(layer.metrics),
            (std::vector<std::string>{"latency_mean_ms", "throughput_tok_per_s", "verify_rel_error"}));

  // compare still knows which way each renamed metric is better: B is faster on every one.
  for (const MetricComparison& c : compare_runs(model, *store.find(2), 1)) {
    if (c.metric == "std_ttft_ms" || c.metric == "std_tpot_ms" || c.metric == "tpot_floor_ms") continue;  // equal
    EXPECT_EQ(c.verdict, Verdict::better) << c.metric;
  }
}
