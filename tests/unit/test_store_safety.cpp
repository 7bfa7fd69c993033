// A refused store is left untouched, and a damaged one is told apart from a foreign one: no
// command writes to a file before it knows the file is a moebench store, reading commands never
// create or convert one, and a writing command creates one only after every input check.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/errors.hpp"
#include "results/results_store.hpp"
#include "results/store_schema.hpp"
#include "unit/results_fixture.hpp"

using namespace moebench;
using namespace moebench::testing;
namespace fs = std::filesystem;

namespace {

const std::string kTinyLayer =
    "layer --manual-config --num-experts 4 --num-experts-per-tok 2 --hidden-size 64 --intermediate-size 64 "
    "--num-tokens 16 --scenarios random --benchmark-iters 2 --warmup-iters 0 --quiet";

void exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

std::string bytes_of(const std::string& path) { return slurp(path); }

std::string open_error(const std::string& path, ResultsStore::OpenMode mode) {
  try {
    ResultsStore store(path, mode);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(StoreSafety, AForeignDatabaseIsRefusedWithoutAByteChanged) {
  const std::string path = fresh_db_path("foreign-untouched");
  exec(path, "CREATE TABLE other (x); INSERT INTO other VALUES (1)");
  const std::string before = bytes_of(path);
  for (auto mode : {ResultsStore::OpenMode::create, ResultsStore::OpenMode::must_exist,
                    ResultsStore::OpenMode::read_only})
    EXPECT_NE(open_error(path, mode).find("a SQLite database that moebench did not create"), std::string::npos);
  EXPECT_EQ(bytes_of(path), before);  // not switched to WAL (bytes 18-19 of the header)
  EXPECT_FALSE(fs::exists(path + "-wal"));
}

TEST(StoreSafety, ReadingCommandsNeverTurnAnEmptyFileIntoAStore) {
  const std::string path = fresh_db_path("zero-bytes");
  std::ofstream{path};
  for (const char* sub : {"list", "show 1", "export", "compare 1 2"})
    expect_bad_input(std::string("results ") + sub + " --results-db " + path, "an empty file, not a results database");
  expect_bad_input("report --results-db " + path + " --output-dir " + fs::path(path).parent_path().string(),
                   "an empty file");
  EXPECT_EQ(fs::file_size(path), 0u);
}

TEST(StoreSafety, ReadersReadAnOlderStoreAsItIsWithTodaysMetricNames) {
  const std::string path = fresh_db_path("older-read-only");
  exec(path, std::string("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES "
                         "(1);") +
                 store_migrations().at(0) +
                 "INSERT INTO runs (kind, model, config, status, error_type, error_message, params, metrics, details, "
                 "host, backend, device, driver_version, cuda_version, moebench_version, git_revision, command_line, "
                 "group_id, started_at, finished_at) VALUES ('model', 'm', 'bs1', 'success', '', '', '{}', "
                 "'{\"latency_s\":7.5,\"itl_ms\":14.3,\"ttft_ms\":250.5}', '{}', 'h', 'cpu', 'd', '', '', '0.1', "
                 "'abc', 'moebench', 'g', '2025-11-27T23:45:12Z', '2025-11-27T23:45:13Z')");
  const std::string before = bytes_of(path);
  {
    ResultsStore reader(path, ResultsStore::OpenMode::read_only);
    EXPECT_EQ(reader.schema_version(), 1);
    const RunRecord r = *reader.find(1);
    EXPECT_DOUBLE_EQ(r.metrics.at("mean_itl_ms").get<double>(), 14.3);
    EXPECT_DOUBLE_EQ(r.metrics.at("mean_ttft_ms").get<double>(), 250.5);
    EXPECT_FALSE(r.metrics.contains("itl_ms"));
  }
  const CliResult shown = run_moebench("results show 1 --results-db " + path);
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("mean_itl_ms"), std::string::npos) << shown.out;
  EXPECT_EQ(bytes_of(path), before);  // neither migrated nor switched to WAL
  // A writer brings it to the current schema, as before.
  EXPECT_EQ(ResultsStore(path).schema_version(), ResultsStore::current_schema_version());
}

TEST(StoreSafety, ATruncatedStoreIsDamagedNotForeignAndIsNotWritten) {
  const std::string path = fresh_db_path("truncated");
  {
    ResultsStore store(path);
    std::vector<RunRecord> many;
    for (int i = 0; i < 200; ++i) many.push_back(layer_record("m", "c" + std::to_string(i), 1.0 + i));
    store.record(many);
  }
  exec(path, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE");
  fs::resize_file(path, fs::file_size(path) / 2);
  const std::string before = bytes_of(path);
  for (auto mode : {ResultsStore::OpenMode::create, ResultsStore::OpenMode::read_only}) {
    const std::string error = open_error(path, mode);
    EXPECT_NE(error.find("is damaged"), std::string::npos) << error;
    EXPECT_NE(error.find("sqlite3 " + path + " '.recover' | sqlite3 NEW.db"), std::string::npos) << error;
    EXPECT_EQ(error.find("not SQLite"), std::string::npos) << error;
  }
  expect_bad_input("results list --results-db " + path, "is damaged");
  EXPECT_EQ(bytes_of(path), before);
}

TEST(StoreSafety, ATextFileIsNotSqliteAndIsLeftAsItIs) {
  const std::string path = fresh_db_path("text");
  std::ofstream(path) << "not a database at all, just some text that is long enough to have a header\n";
  const std::string before = bytes_of(path);
  EXPECT_NE(open_error(path, ResultsStore::OpenMode::create).find("not SQLite"), std::string::npos);
  EXPECT_EQ(bytes_of(path), before);
}

TEST(StoreSafety, LayerCreatesNoStoreBeforeItsLastInputCheck) {
  const fs::path dir = fresh_temp_dir("no-store-before-checks");
  std::ofstream(dir / "a-file") << "x";
  for (const std::string& bad : {std::string("--profile --profile-dir /proc/x"),
                                 std::string("--export-routing ") + (dir / "a-file").string()}) {
    const CliResult r = run_moebench(kTinyLayer + " " + bad, dir.string());
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_FALSE(fs::exists(dir / "moebench_results.db")) << bad;
  }
  setenv("MOEBENCH_TEST_FAULT", "bogus", 1);
  const CliResult r = run_moebench(kTinyLayer, dir.string());
  unsetenv("MOEBENCH_TEST_FAULT");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("MOEBENCH_TEST_FAULT=bogus"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "moebench_results.db"));
}
