// `moebench model` records its runs, through the real binary: one record per batch size with
// seed 002's fields on export --seed-format, a batch size refused by the pre-flight stored as
// OOM, a truncated stack keyed apart from the whole model, a failed run stored for every batch
// size, and `results` in a directory where nothing was recorded yet.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "results/results_store.hpp"
#include "unit/results_fixture.hpp"

using namespace moebench;
using moebench::testing::CliResult;
using moebench::testing::expect_bad_input;
using moebench::testing::fresh_db_path;
using moebench::testing::fresh_temp_dir;
using moebench::testing::run_moebench;
using moebench::testing::slurp;

namespace {

const std::string kTiny =
    "model --backend cpu --model tiny --input-len 8 --output-len 4 --warmup-runs 0 --benchmark-runs 2";

std::vector<std::string> keys_of(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

}  // namespace

TEST(ModelRecords, OneRecordPerBatchSizeExportedWithSeed002sFields) {
  const std::string db = fresh_db_path("model-records");
  CliResult r = run_moebench(kTiny + " --batch-size 1,2 --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("recorded 2 results in " + db), std::string::npos) << r.err;

  ResultsStore store(db, ResultsStore::OpenMode::must_exist);
  const std::vector<RunRecord> records = store.list();
  ASSERT_EQ(records.size(), 2u);
  const RunRecord& b2 = records[1];
  EXPECT_EQ(b2.kind, "model");
  EXPECT_EQ(b2.key(), "tiny::TP1_EP1_reference_bs2_in8_out4_bf16");
  EXPECT_EQ(b2.status, RunStatus::success);
  EXPECT_EQ(b2.params["batch_size"], 2);
  EXPECT_EQ(b2.params["moe_impl"], "reference");
  EXPECT_FALSE(b2.params.contains("num_layers"));  // the whole model ran
  for (const char* metric : {"latency_s", "input_throughput_tok_per_s", "output_throughput_tok_per_s", "mean_itl_ms",
                             "mean_ttft_ms", "mean_tpot_ms", "tpot_floor_ms", "e2e_throughput_tok_per_s",
                             "measured_memory_bytes"})
    EXPECT_GT(b2.metrics.value(metric, 0.0), 0) << metric;
  // latency_s is one whole generation: the prefill and three decode steps, each over 0.
  EXPECT_GT(b2.metrics["latency_s"].get<double>() * 1e3, b2.metrics["mean_ttft_ms"].get<double>());
  EXPECT_EQ(b2.details["batch"]["runs"].size(), 2u);
  EXPECT_EQ(b2.details["full_layers"], 4);
  EXPECT_TRUE(b2.details["startup_ms"].contains("weight_init"));
  EXPECT_EQ(b2.group_id, records[0].group_id);  // one invocation, one group
  EXPECT_EQ(b2.group_id.rfind("model-", 0), 0u) << b2.group_id;

  const auto dir = fresh_temp_dir("model-seed-export");
  r = run_moebench("results export --seed-format --output-dir " + dir.string() + " --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ours = nlohmann::ordered_json::parse(slurp(dir / "success_results.json"));
  const auto seed =
      nlohmann::ordered_json::parse(slurp(std::string(MOEBENCH_TEST_DATA) + "/seed002/success_results.json"));
  const auto& seed_entry = seed.begin().value();
  ASSERT_EQ(ours.size(), 2u);
  for (const auto& [key, entry] : ours.items()) {
    EXPECT_EQ(keys_of(entry), keys_of(seed_entry)) << key;
    for (const auto& [field, value] : seed_entry.items())
      EXPECT_EQ(entry[field].is_number(), value.is_number()) << key << " " << field;
  }
  EXPECT_EQ(ours["tiny::TP1_EP1_reference_bs1_in8_out4_bf16"]["batch_size"], 1);
}

TEST(ModelRecords, RefusedBatchIsAnOomFailureAndATruncatedStackIsItsOwnKey) {
  const std::string db = fresh_db_path("model-refused");
  // 100 million sequences need terabytes of KV cache: refused before anything is allocated.
  // A configuration that did not run makes the exit code 1 (one rule for layer, model, sweep).
  CliResult r = run_moebench(kTiny + " --quiet --num-layers 2 --batch-size 1,100000000 --results-db " + db);
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("1 batch size(s) did not fit and did not run"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("recorded"), std::string::npos) << r.err;  // --quiet
  ResultsStore store(db, ResultsStore::OpenMode::must_exist);
  const std::vector<RunRecord> records = store.list();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].key(), "tiny::TP1_EP1_reference_bs1_in8_out4_bf16_L2");
  EXPECT_EQ(records[0].status, RunStatus::success);
  EXPECT_EQ(records[0].params["num_layers"], 2);
  const RunRecord& refused = records[1];
  EXPECT_EQ(refused.key(), "tiny::TP1_EP1_reference_bs100000000_in8_out4_bf16_L2");
  EXPECT_EQ(refused.status, RunStatus::failure);
  EXPECT_EQ(refused.error_type, "OOM");
  EXPECT_EQ(refused.error_message.rfind("does not fit: needed ", 0), 0u) << refused.error_message;
  EXPECT_NE(refused.error_message.find(" GiB vs available "), std::string::npos) << refused.error_message;
  EXPECT_TRUE(refused.metrics.empty());
  EXPECT_GT(refused.details["batch"]["memory"]["predicted_bytes"].get<int64_t>(), int64_t(1) << 40);
}

TEST(ModelRecords, AFailedRunIsRecordedForEveryBatchSizeAndNoRecordWritesNothing) {
  const std::string db = fresh_db_path("model-failed");
  setenv("MOEBENCH_TEST_FAULT", "oom", 1);
  CliResult r = run_moebench(kTiny + " --quiet --batch-size 1,2 --results-db " + db);
  unsetenv("MOEBENCH_TEST_FAULT");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("moebench: OOM: out of memory (simulated"), std::string::npos) << r.err;
  {
    ResultsStore store(db, ResultsStore::OpenMode::must_exist);
    const std::vector<RunRecord> failures = store.latest_failures();
    ASSERT_EQ(failures.size(), 2u);
    for (const RunRecord& f : failures) {
      EXPECT_EQ(f.error_type, "OOM");
      EXPECT_EQ(f.kind, "model");
    }
    EXPECT_EQ(failures[1].key(), "tiny::TP1_EP1_reference_bs2_in8_out4_bf16");
    EXPECT_EQ(failures[1].params["batch_size"], 2);
  }
  // A later success of the same key clears its failure (seed 002).
  r = run_moebench(kTiny + " --quiet --batch-size 2 --results-db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<RunRecord> left = ResultsStore(db, ResultsStore::OpenMode::must_exist).latest_failures();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].params["batch_size"], 1);

  const std::string unused = fresh_db_path("model-no-record");
  r = run_moebench(kTiny + " --quiet --batch-size 1 --no-record --results-db " + unused);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(unused));
}

TEST(ModelRecords, BadInputRecordsNothing) {
  const std::string db = fresh_db_path("model-bad");
  expect_bad_input(kTiny + " --ep-size 2 --results-db " + db, "--tp-size (1) must be a multiple of --ep-size (2)");
  expect_bad_input(kTiny + " --tp-size 2 --ep-size 2 --impl reference --results-db " + db,
                   "--impl reference runs a layer on one device; with --tp-size 2 use: ep, tp");
  // Nothing fits: refused before the store is created.
  expect_bad_input(kTiny + " --batch-size 100000000 --results-db " + db, "does not fit: needed");
  EXPECT_FALSE(std::filesystem::exists(db));
  expect_bad_input(kTiny + " --results-db /no/such/dir/results.db", "directory /no/such/dir does not exist");
  CliResult help = run_moebench("model --help");
  ASSERT_EQ(help.exit_code, 0);
  for (const char* flag : {"--results-db", "--no-record", "--ep-size"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
}

TEST(ResultsWithoutStore, DefaultStoreNotYetRecordedIsNoErrorANamedOneIs) {
  const auto dir = fresh_temp_dir("results-empty-dir");
  for (const char* command : {"results", "results list"}) {
    CliResult r = run_moebench(command, dir.string());
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
    EXPECT_EQ(r.out,
              "no results recorded yet in ./moebench_results.db: run moebench layer or moebench model first\n")
        << command;
    EXPECT_TRUE(r.err.empty()) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "moebench_results.db"));  // listing created nothing
  // Named, the default's own name included, it must exist.
  const std::string named = (dir / "moebench_results.db").string();
  expect_bad_input("results --results-db " + named, "no results database there");
  expect_bad_input("results list --results-db " + named, "no results database there");
  std::filesystem::remove_all(dir);
}
