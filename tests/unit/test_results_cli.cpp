// moebench results (list, show, export, compare, delete) and layer's recording, through the
// real binary; export --seed-format parsed back and compared key by key with seed 002's example.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "results/results_store.hpp"
#include "unit/results_fixture.hpp"

using namespace moebench;
using moebench::testing::CliResult;
using moebench::testing::expect_bad_input;
using moebench::testing::fresh_db_path;
using moebench::testing::run_moebench;
using moebench::testing::slurp;

namespace {

const std::string kTinyLayer =
    "layer --manual-config --num-experts 4 --num-experts-per-tok 2 --hidden-size 64 --intermediate-size 64 "
    "--num-tokens 16 --benchmark-iters 2 --warmup-iters 0 --quiet";

// Seed 002's example entries, as the store holds them (its itl_ms is our mean_itl_ms).
std::string seed_store() {
  const std::string db = fresh_db_path("seed-store");
  ResultsStore store(db);
  RunRecord ok = moebench::testing::layer_record("Qwen3-235B", "TP8_EP2_auto", 1);
  ok.kind = "model";
  ok.params = {{"batch_size", 1}, {"input_len", 4096}, {"output_len", 512}};
  ok.metrics = {{"latency_s", 7.59},
                {"input_throughput_tok_per_s", 15933.87},
                {"output_throughput_tok_per_s", 69.81},
                {"mean_itl_ms", 14.32}};
  ok.finished_at = "2025-11-27T23:45:12Z";
  store.record(ok);
  RunRecord failed = moebench::testing::failure_record("DeepSeek-V3.1", "TP4_auto", "OOM", "CUDA out of memory...");
  failed.kind = "model";
  failed.params = nlohmann::ordered_json::object();
  failed.finished_at = "2025-11-27T23:50:00Z";
  store.record(failed);
  return db;
}

// Same keys in the same order, same value types, same values but for last_updated (local time).
void expect_same_shape(const nlohmann::ordered_json& ours, const nlohmann::ordered_json& seed) {
  ASSERT_EQ(ours.size(), seed.size()) << ours.dump(2);
  for (auto s = seed.begin(), o = ours.begin(); s != seed.end(); ++s, ++o) {
    EXPECT_EQ(o.key(), s.key());
    ASSERT_EQ(o.value().size(), s.value().size()) << o.value().dump(2);
    for (auto sf = s.value().begin(), of = o.value().begin(); sf != s.value().end(); ++sf, ++of) {
      EXPECT_EQ(of.key(), sf.key());
      EXPECT_EQ(of.value().type_name(), std::string(sf.value().type_name())) << sf.key();
      if (sf.key() == "last_updated")
        EXPECT_EQ(of.value().get<std::string>().size(), sf.value().get<std::string>().size());
      else
        EXPECT_EQ(of.value(), sf.value()) << sf.key();
    }
  }
}

}  // namespace

TEST(ResultsCli, LayerRecordsEveryRowAndResultsReadsThem) {
  const std::string db = fresh_db_path("layer-records");
  CliResult r = run_moebench(kTinyLayer + " --scenarios random,balanced --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = run_moebench("results list --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("TP1_EP1_reference_random_T16_bf16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("TP1_EP1_reference_balanced_T16_bf16"), std::string::npos) << r.out;

  r = run_moebench("results show 1 --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("key           manual-e4-k2-h64-i64::TP1_EP1_reference_random_T16_bf16"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("latency_mean_ms"), std::string::npos);
  EXPECT_NE(r.out.find("--num-experts 4"), std::string::npos);  // the command line is kept

  r = run_moebench("results compare 1 2 --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("speedup"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("latency_mean_ms"), std::string::npos) << r.out;
  r = run_moebench("results compare 1 1 --results-db " + db);  // a run against itself: nothing moves
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1.000x"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("better"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("REGRESSION"), std::string::npos) << r.out;

  r = run_moebench("results export --output-format json --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json exported = nlohmann::json::parse(r.out);
  EXPECT_EQ(exported["schema_version"], ResultsStore::current_schema_version());
  ASSERT_EQ(exported["runs"].size(), 2u);
  EXPECT_EQ(exported["runs"][0]["params"]["num_tokens"], 16);
  EXPECT_EQ(exported["runs"][0]["environment"]["backend"], "cpu");

  r = run_moebench("results export --output-format csv --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("id,kind,model,config,status,", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(",latency_mean_ms,"), std::string::npos);

  r = run_moebench("results delete 1 --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "deleted 1 runs\n");
  expect_bad_input("results show 1 --results-db " + db, "run id 1: no such run");
}

TEST(ResultsCli, NoRecordWritesNothingAndAFailedRunIsRecordedClassified) {
  const std::string db = fresh_db_path("no-record");
  CliResult r = run_moebench(kTinyLayer + " --scenarios random --no-record --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(db));

  setenv("MOEBENCH_TEST_FAULT", "oom", 1);
  r = run_moebench(kTinyLayer + " --scenarios random,balanced --results-db " + db);
  unsetenv("MOEBENCH_TEST_FAULT");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ResultsStore store(db, ResultsStore::OpenMode::must_exist);
  const std::vector<RunRecord> failures = store.latest_failures();
  ASSERT_EQ(failures.size(), 2u);  // every planned row
  EXPECT_EQ(failures[0].error_type, "OOM");
  EXPECT_EQ(failures[0].config, "TP1_EP1_reference_balanced_T16_bf16");
}

TEST(ResultsCli, SeedFormatExportMatchesSeed002KeyByKey) {
  const std::string db = seed_store();
  const auto dir = moebench::testing::fresh_temp_dir("seed-export");
  CliResult r = run_moebench("results export --seed-format --output-dir " + dir.string() + " --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string data = std::string(MOEBENCH_TEST_DATA) + "/seed002/";
  expect_same_shape(nlohmann::ordered_json::parse(slurp(dir / "success_results.json")),
                    nlohmann::ordered_json::parse(slurp(data + "success_results.json")));
  expect_same_shape(nlohmann::ordered_json::parse(slurp(dir / "failure_results.json")),
                    nlohmann::ordered_json::parse(slurp(data + "failure_results.json")));

  // A later success of the failed key takes it out of failure_results.json.
  {
    ResultsStore store(db);
    RunRecord ok = moebench::testing::layer_record("DeepSeek-V3.1", "TP4_auto", 1);
    store.record(ok);
  }
  r = run_moebench("results export --seed-format --output-dir " + dir.string() + " --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(slurp(dir / "failure_results.json")).size(), 0u);
  EXPECT_EQ(nlohmann::json::parse(slurp(dir / "success_results.json")).size(), 2u);
}

TEST(ResultsCli, MarkdownExportGroupsByModel) {
  const std::string db = seed_store();
  CliResult r = run_moebench("results export --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const size_t qwen = r.out.find("## Qwen3-235B"), deepseek = r.out.find("## DeepSeek-V3.1");
  ASSERT_NE(qwen, std::string::npos) << r.out;
  ASSERT_NE(deepseek, std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| TP8_EP2_auto | success | 1 | 4096 | 512 | 7.59 | 15933.87 | 69.81 | 14.32 |  |"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("| TP4_auto | failure | OOM: CUDA out of memory... |"), std::string::npos) << r.out;
}

TEST(ResultsCli, BadInputsOneLineExit2NothingWritten) {
  const std::string missing = fresh_db_path("missing");
  for (const char* sub : {"list", "show 1", "export", "compare 1 2", "delete 1"})
    expect_bad_input(std::string("results ") + sub + " --results-db " + missing, "no results database there");
  EXPECT_FALSE(std::filesystem::exists(missing));

  const std::string db = seed_store();
  expect_bad_input("results show 99 --results-db " + db, "run id 99: no such run");
  expect_bad_input("results compare 1 99 --results-db " + db, "run id 99: no such run");
  expect_bad_input("results compare 1 2 --results-db " + db, "share no metric");
  expect_bad_input("results compare 1 1 --threshold -1 --results-db " + db, "--threshold must be >= 0");
  expect_bad_input("results delete 99 --results-db " + db, "run id 99: no such run");
  expect_bad_input("results delete --results-db " + db, "name what to delete");
  expect_bad_input("results export --output-format xml --results-db " + db, "--output-format: unknown format 'xml'");
  expect_bad_input("results list --status maybe --results-db " + db, "--status: unknown status 'maybe'");
  expect_bad_input("results list --limit -1 --results-db " + db, "--limit must be >= 0");
  expect_bad_input("results export --seed-format --output-dir /no/such/dir --results-db " + db,
                   "--output-dir /no/such/dir");
  expect_bad_input("results show --results-db " + db, "id");
  EXPECT_EQ(ResultsStore(db).count(), 2);  // nothing deleted by the refused deletes
  expect_bad_input(kTinyLayer + " --scenarios random --results-db /no/such/dir/results.db", "directory /no/such/dir does not exist");
}
