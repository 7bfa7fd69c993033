// The results store: round trip, schema version, concurrent writers (threads and processes),
// a writer killed with SIGKILL mid-run, and refusals of paths that are no results database.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include "core/errors.hpp"
#include "results/results_store.hpp"
#include "unit/results_fixture.hpp"

using namespace moebench;
using moebench::testing::failure_record;
using moebench::testing::fresh_db_path;
using moebench::testing::layer_record;

TEST(ResultsStore, RoundTripKeepsEveryField) {
  const std::string path = fresh_db_path("store-roundtrip");
  ResultsStore store(path);
  RunRecord r = layer_record("qwen3-30b-a3b", "TP1_EP1_naive_random_T512_bf16", 1.25);
  r.params = {{"num_tokens", 512}, {"scenario", "random"}, {"impl", "naive"}};
  r.metrics = {{"latency_mean_ms", 1.25}, {"efficiency", nullptr}, {"tflops", 3.5}};
  r.details = {{"num_experts", 128}};
  r.environment = {"host1", "cuda", "NVIDIA H100", "CUDA 13.0", "13000", "0.1.0", "abc123"};
  r.command_line = "moebench layer --num-tokens 512";
  r.group_id = "layer-1";
  r.started_at = "2025-11-27T23:45:10Z";
  r.finished_at = "2025-11-27T23:45:12Z";
  const int64_t id = store.record(r);
  EXPECT_GT(id, 0);

  std::optional<RunRecord> back = ResultsStore(path, ResultsStore::OpenMode::must_exist).find(id);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, id);
  EXPECT_EQ(back->kind, "layer");
  EXPECT_EQ(back->key(), "qwen3-30b-a3b::TP1_EP1_naive_random_T512_bf16");
  EXPECT_EQ(back->status, RunStatus::success);
  EXPECT_EQ(back->params.dump(), r.params.dump());  // key order kept
  EXPECT_EQ(back->metrics.dump(), r.metrics.dump());
  EXPECT_EQ(back->details.dump(), r.details.dump());
  EXPECT_EQ(back->environment.device, "NVIDIA H100");
  EXPECT_EQ(back->environment.driver_version, "CUDA 13.0");
  EXPECT_EQ(back->environment.git_revision, "abc123");
  EXPECT_EQ(back->command_line, r.command_line);
  EXPECT_EQ(back->group_id, "layer-1");
  EXPECT_EQ(back->started_at, r.started_at);
  EXPECT_EQ(back->finished_at, r.finished_at);
  EXPECT_FALSE(store.find(id + 1));
}

TEST(ResultsStore, FailureRoundTripAndTimestampsFilled) {
  ResultsStore store(fresh_db_path("store-failure"));
  const int64_t id = store.record(failure_record("m", "TP4_auto", "OOM", "CUDA out of memory"));
  RunRecord back = *store.find(id);
  EXPECT_EQ(back.status, RunStatus::failure);
  EXPECT_EQ(back.error_type, "OOM");
  EXPECT_EQ(back.error_message, "CUDA out of memory");
  EXPECT_EQ(back.finished_at.size(), 20u) << back.finished_at;  // 2025-11-27T23:45:12Z
  EXPECT_EQ(back.started_at, back.finished_at);
}

TEST(ResultsStore, SchemaVersionIsWrittenAndNewerIsRefused) {
  const std::string path = fresh_db_path("store-schema");
  { EXPECT_EQ(ResultsStore(path).schema_version(), ResultsStore::current_schema_version()); }
  EXPECT_GE(ResultsStore::current_schema_version(), 1);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 999", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  try {
    ResultsStore again(path);
    FAIL() << "a newer schema was opened";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 999 is newer"), std::string::npos) << e.what();
  }
}

TEST(ResultsStore, OpeningACurrentStoreDoesNotWaitBehindAWriter) {
  const std::string path = fresh_db_path("store-reader-beside-writer");
  ResultsStore(path).record(layer_record("m", "c", 1.0));
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  // With the write lock held elsewhere, a reader opens and reads at once (a write transaction
  // on open would wait out the busy timeout and fail).
  const auto start = std::chrono::steady_clock::now();
  ResultsStore reader(path, ResultsStore::OpenMode::must_exist);
  EXPECT_EQ(reader.count(), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  sqlite3_exec(writer, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(writer);
}

TEST(ResultsStore, RefusesMissingFileForReadersAndForeignFiles) {
  const std::string missing = fresh_db_path("store-missing");
  EXPECT_THROW(ResultsStore(missing, ResultsStore::OpenMode::must_exist), InputError);
  EXPECT_FALSE(std::filesystem::exists(missing));  // nothing written

  const std::string text_file = fresh_db_path("store-text");
  std::ofstream(text_file) << "not a database at all, just some text that is long enough to have a header\n";
  EXPECT_THROW(ResultsStore(text_file, ResultsStore::OpenMode::must_exist), InputError);

  const std::string foreign = fresh_db_path("store-foreign");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(foreign.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE other (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THROW(ResultsStore{foreign}, InputError);

  EXPECT_THROW(ResultsStore{"/no/such/dir/results.db"}, InputError);
}

TEST(ResultsStore, ListFiltersCountsAndDeletes) {
  ResultsStore store(fresh_db_path("store-list"));
  std::vector<RunRecord> batch = {layer_record("a", "c1", 1), layer_record("a", "c2", 2),
                                  failure_record("b", "c1", "Crash", "boom"), layer_record("b", "c2", 4)};
  batch[3].group_id = "other";
  std::vector<int64_t> ids = store.record(batch);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_LT(ids[0], ids[3]);

  EXPECT_EQ(store.count(), 4);
  EXPECT_EQ(store.count({.model = "a"}), 2);
  EXPECT_EQ(store.count({.status = RunStatus::failure}), 1);
  EXPECT_EQ(store.count({.group_id = "other"}), 1);
  std::vector<RunRecord> newest = store.list({.limit = 2});
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].id, ids[2]);  // oldest first among the newest two
  EXPECT_EQ(newest[1].id, ids[3]);
  std::vector<RunRecord> after = store.list({.min_id = ids[1]});
  ASSERT_EQ(after.size(), 2u);  // only ids above it
  EXPECT_EQ(after[0].id, ids[2]);
  EXPECT_EQ(store.count({.ids = {ids[0], ids[3]}, .model = "b", .min_id = ids[0]}), 1);  // with an id list

  EXPECT_EQ(store.remove({.ids = {ids[0], ids[2]}}), 2);
  EXPECT_EQ(store.count(), 2);
  EXPECT_FALSE(store.find(ids[0]));
  // Ids are never reused after a delete.
  EXPECT_GT(store.record(layer_record("a", "c1", 1)), ids[3]);
}

TEST(ResultsStore, ConcurrentThreadsLoseNothing) {
  const std::string path = fresh_db_path("store-threads");
  { ResultsStore create(path); }  // first, so that the writers only race on records
  constexpr int kThreads = 4, kEach = 40;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      ResultsStore store(path);  // one connection per thread
      for (int i = 0; i < kEach; ++i) store.record(layer_record("m" + std::to_string(t), "c" + std::to_string(i), i));
    });
  for (std::thread& t : threads) t.join();
  ResultsStore store(path);
  EXPECT_EQ(store.count(), kThreads * kEach);
  EXPECT_EQ(store.integrity_check(), "ok");
}

TEST(ResultsStore, ConcurrentProcessesCreatingTheSameFileLoseNothing) {
  const std::string path = fresh_db_path("store-processes");  // not created: they race on creation too
  constexpr int kProcesses = 4, kEach = 25;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      try {
        ResultsStore store(path);
        for (int i = 0; i < kEach; ++i)
          store.record(layer_record("p" + std::to_string(p), "c" + std::to_string(i), i + 1));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer %d: %s\n", p, e.what());
        code = 1;
      }
      _exit(code);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  ResultsStore store(path);
  EXPECT_EQ(store.count(), kProcesses * kEach);
  for (int p = 0; p < kProcesses; ++p) EXPECT_EQ(store.count({.model = "p" + std::to_string(p)}), kEach);
  EXPECT_EQ(store.integrity_check(), "ok");
}

TEST(ResultsStore, WriterKilledMidRunKeepsEverythingItCommitted) {
  const std::string path = fresh_db_path("store-killed");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    ResultsStore store(path);
    // Writes forever, reporting each id only once its transaction has committed.
    for (int i = 0;; ++i) {
      int64_t id = store.record(layer_record("killed", "c" + std::to_string(i), i + 1));
      if (write(fds[1], &id, sizeof id) != sizeof id) _exit(1);
    }
  }
  close(fds[1]);
  std::vector<int64_t> committed;
  int64_t id = 0;
  while (committed.size() < 30 && read(fds[0], &id, sizeof id) == sizeof id) committed.push_back(id);
  kill(pid, SIGKILL);
  while (read(fds[0], &id, sizeof id) == sizeof id) committed.push_back(id);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_GE(committed.size(), 30u);

  ResultsStore store(path);
  EXPECT_EQ(store.integrity_check(), "ok");
  std::set<int64_t> stored;
  for (const RunRecord& r : store.list()) stored.insert(r.id);
  for (int64_t c : committed) EXPECT_TRUE(stored.count(c)) << "lost committed record " << c;
  // The store stays writable after the crash.
  EXPECT_GT(store.record(layer_record("after", "c", 1)), committed.back());
}
