#pragma once
// The results store: every run of `layer`, `model` and `sweep` in one SQLite database
// (default ./moebench_results.db, --results-db to change).
//
// Safe for several processes at once and for crashes: the database runs in WAL mode with a
// busy timeout, every write is one transaction (BEGIN IMMEDIATE ... COMMIT), and a committed
// record survives the writer being killed. The schema is versioned (table schema_version) and
// migrated forward when a writer opens it; a database from a newer moebench is refused, not
// touched. A file is inspected before anything is written to it (its bytes, its tables, its
// schema version): one that is not SQLite, a SQLite database of another program, and a damaged
// moebench store are each refused with their own message and left as they are. Readers open
// the store read-only: they never create, convert or migrate it.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "results/run_record.hpp"

struct sqlite3;

namespace moebench {

// The database itself failed (disk full, locked past the busy timeout, corrupt file).
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr const char* kDefaultResultsDb = "moebench_results.db";

// Which records a query or a delete selects; empty fields select everything.
struct RunFilter {
  std::vector<int64_t> ids;
  std::string model;
  std::string kind;
  std::optional<RunStatus> status;
  std::string group_id;
  int64_t min_id = 0;  // only records with an id above it (newer than a record seen); 0 = all
  int64_t limit = 0;   // the newest `limit` records; 0 = all
};

class ResultsStore {
 public:
  enum class OpenMode {
    create,      // create the file and schema if missing (commands that record)
    must_exist,  // an existing store that is written to (results delete)
    read_only,   // an existing store, only read (results list/show/export/compare, report)
  };

  // Throws InputError naming --results-db when the file is missing (must_exist, read_only), is
  // empty (read_only), is not a SQLite database, is another program's, is damaged, comes from
  // a newer schema, or (create, must_exist) cannot be written; StoreError when SQLite fails.
  explicit ResultsStore(const std::string& path, OpenMode mode = OpenMode::create);
  ~ResultsStore();
  ResultsStore(const ResultsStore&) = delete;
  ResultsStore& operator=(const ResultsStore&) = delete;

  const std::string& path() const { return path_; }
  static int current_schema_version();
  int schema_version() const;

  // Stores the records in one transaction (all or none) and returns their new ids in order.
  std::vector<int64_t> record(const std::vector<RunRecord>& records);
  int64_t record(const RunRecord& record);

  std::optional<RunRecord> find(int64_t id) const;
  // Matching records, oldest first (the newest `limit` of them when a limit is set).
  std::vector<RunRecord> list(const RunFilter& filter = {}) const;
  int64_t count(const RunFilter& filter = {}) const;
  // Deletes the matching records in one transaction; returns how many went.
  int64_t remove(const RunFilter& filter);

  // Seed 002's tracker: per model::config key, the latest success; and the latest failure of
  // each key that has no success (a failure never overwrites a success). Records of kind
  // "sweep" (a sweep's own summary) are no benchmark result and are left out. Ordered by key.
  std::vector<RunRecord> latest_successes(const RunFilter& filter = {}) const;
  std::vector<RunRecord> latest_failures(const RunFilter& filter = {}) const;
  // Both of them read in one read transaction, from one snapshot: a write between the two reads
  // cannot put a key in both lists (or in neither).
  struct TrackerSnapshot {
    std::vector<RunRecord> successes, failures;
  };
  TrackerSnapshot latest_results(const RunFilter& filter = {}) const;

  // PRAGMA integrity_check: "ok" for a sound database.
  std::string integrity_check() const;

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  // The schema the file holds: the current one once a writer has opened it; an older one
  // stays as it is for a reader, whose records get the current metric names in memory.
  int schema_version_ = 0;
};

}  // namespace moebench
