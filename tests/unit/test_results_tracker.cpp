// Seed 002's tracker semantics, case by case: results persist across runs, re-running updates
// an entry, a success removes the failure of the same model::config, a failure never
// overwrites a success.
#include <gtest/gtest.h>

#include "results/results_store.hpp"
#include "unit/results_fixture.hpp"

using namespace moebench;
using moebench::testing::failure_record;
using moebench::testing::fresh_db_path;
using moebench::testing::layer_record;

namespace {

using Tracker = ResultsStore::TrackerSnapshot;

Tracker tracker_of(const std::string& path) {
  return ResultsStore(path, ResultsStore::OpenMode::must_exist).latest_results();
}

}  // namespace

TEST(SeedTracker, ResultsPersistAcrossRuns) {
  const std::string path = fresh_db_path("tracker-persist");
  ResultsStore{path}.record(layer_record("Qwen3-235B", "TP8_EP2_auto", 7.59));
  ResultsStore{path}.record(failure_record("DeepSeek-V3.1", "TP4_auto", "OOM", "CUDA out of memory"));
  Tracker t = tracker_of(path);  // a third process-like open sees both
  ASSERT_EQ(t.successes.size(), 1u);
  EXPECT_EQ(t.successes[0].key(), "Qwen3-235B::TP8_EP2_auto");
  ASSERT_EQ(t.failures.size(), 1u);
  EXPECT_EQ(t.failures[0].key(), "DeepSeek-V3.1::TP4_auto");
}

TEST(SeedTracker, RerunningUpdatesTheEntry) {
  const std::string path = fresh_db_path("tracker-rerun");
  ResultsStore store(path);
  store.record(layer_record("m", "TP8_EP2_auto", 7.59));
  const int64_t second = store.record(layer_record("m", "TP8_EP2_auto", 6.5));
  Tracker t = tracker_of(path);
  ASSERT_EQ(t.successes.size(), 1u);
  EXPECT_EQ(t.successes[0].id, second);
  EXPECT_DOUBLE_EQ(t.successes[0].metrics["latency_mean_ms"].get<double>(), 6.5);

  store.record(failure_record("m", "TP4_auto", "OOM", "first"));
  store.record(failure_record("m", "TP4_auto", "Timeout", "second"));
  t = tracker_of(path);
  ASSERT_EQ(t.failures.size(), 1u);
  EXPECT_EQ(t.failures[0].error_type, "Timeout");
  EXPECT_EQ(t.failures[0].error_message, "second");
}

TEST(SeedTracker, SuccessRemovesTheFailureOfTheSameKey) {
  const std::string path = fresh_db_path("tracker-success-clears");
  ResultsStore store(path);
  store.record(failure_record("m", "TP4_auto", "OOM", "out of memory"));
  store.record(failure_record("m", "TP8_auto", "OOM", "out of memory"));
  store.record(layer_record("m", "TP4_auto", 3.0));
  Tracker t = tracker_of(path);
  ASSERT_EQ(t.successes.size(), 1u);
  EXPECT_EQ(t.successes[0].config, "TP4_auto");
  ASSERT_EQ(t.failures.size(), 1u);  // only the other key's failure is left
  EXPECT_EQ(t.failures[0].config, "TP8_auto");
  // The same config of another model is another key.
  store.record(failure_record("other", "TP4_auto", "Crash", "segfault"));
  EXPECT_EQ(tracker_of(path).failures.size(), 2u);
}

TEST(SeedTracker, FailureNeverOverwritesSuccess) {
  const std::string path = fresh_db_path("tracker-failure-keeps-success");
  ResultsStore store(path);
  const int64_t success = store.record(layer_record("m", "TP8_EP2_auto", 7.59));
  store.record(failure_record("m", "TP8_EP2_auto", "Timeout", "hung"));
  Tracker t = tracker_of(path);
  ASSERT_EQ(t.successes.size(), 1u);
  EXPECT_EQ(t.successes[0].id, success);
  EXPECT_TRUE(t.failures.empty());
  // The failed run itself is kept in the history.
  EXPECT_EQ(store.count({.status = RunStatus::failure}), 1);
}

TEST(SeedTracker, SweepSummariesAreNoEntriesAndFiltersNarrowTheListing) {
  const std::string path = fresh_db_path("tracker-filters");
  ResultsStore store(path);
  RunRecord summary = layer_record("matrix", "sweep.yaml", 0);
  summary.kind = "sweep";
  store.record(summary);
  store.record(layer_record("a", "c", 1));
  store.record(layer_record("b", "c", 2));
  store.record(failure_record("b", "d", "OOM", "x"));
  EXPECT_EQ(store.latest_successes().size(), 2u);
  EXPECT_EQ(store.latest_successes({.model = "a"}).size(), 1u);
  EXPECT_EQ(store.latest_failures({.model = "a"}).size(), 0u);
  EXPECT_EQ(store.latest_failures({.model = "b"}).size(), 1u);
}
