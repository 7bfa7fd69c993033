#include "results/results_store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "core/errors.hpp"
#include "results/sqlite_statement.hpp"
#include "results/store_schema.hpp"
#include "results/timestamps.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

// How long a writer waits for another one's transaction before giving up: long enough for any
// number of sweep children and layer runs committing at once.
constexpr int kBusyTimeoutMs = 60000;

// One placeholder per column after id.
constexpr const char* kTwentyPlaceholders = ", ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?";

constexpr const char* kColumns =
    "id, kind, model, config, status, error_type, error_message, params, metrics, details, host, backend, device, "
    "driver_version, cuda_version, moebench_version, git_revision, command_line, group_id, started_at, finished_at";

// The WHERE clause of a filter (over unqualified column names) and its bound values, in order.
struct Where {
  std::string sql = "1";
  std::vector<std::string> values;
  std::vector<int64_t> ids;
};

Where where_of(const RunFilter& f) {
  Where w;
  auto equal = [&](const char* column, const std::string& value) {
    if (value.empty()) return;
    w.sql += fmt::format(" AND {} = ?", column);
    w.values.push_back(value);
  };
  equal("model", f.model);
  equal("kind", f.kind);
  equal("group_id", f.group_id);
  if (f.status) equal("status", run_status_name(*f.status));
  if (!f.ids.empty()) {
    w.sql += " AND id IN (";
    for (size_t i = 0; i < f.ids.size(); ++i) w.sql += i ? ", ?" : "?";
    w.sql += ")";
    w.ids = f.ids;
  }
  if (f.min_id > 0) {
    w.sql += " AND id > ?";  // bound after the IN list's ids, as it comes after them here
    w.ids.push_back(f.min_id);
  }
  return w;
}

void bind_where(SqliteStatement& s, const Where& w, int first = 1) {
  int i = first;
  for (const std::string& v : w.values) s.bind(i++, v);
  for (int64_t id : w.ids) s.bind(i++, id);
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json parse_object(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json::object();
}

RunRecord record_of(const SqliteStatement& s) {
  RunRecord r;
  int c = 0;
  r.id = s.column_int(c++);
  r.kind = s.column_text(c++);
  r.model = s.column_text(c++);
  r.config = s.column_text(c++);
  r.status = s.column_text(c++) == "success" ? RunStatus::success : RunStatus::failure;
  r.error_type = s.column_text(c++);
  r.error_message = s.column_text(c++);
  r.params = parse_object(s.column_text(c++));
  r.metrics = parse_object(s.column_text(c++));
  r.details = parse_object(s.column_text(c++));
  r.environment.host = s.column_text(c++);
  r.environment.backend = s.column_text(c++);
  r.environment.device = s.column_text(c++);
  r.environment.driver_version = s.column_text(c++);
  r.environment.cuda_version = s.column_text(c++);
  r.environment.moebench_version = s.column_text(c++);
  r.environment.git_revision = s.column_text(c++);
  r.command_line = s.column_text(c++);
  r.group_id = s.column_text(c++);
  r.started_at = s.column_text(c++);
  r.finished_at = s.column_text(c++);
  return r;
}

std::vector<RunRecord> query(sqlite3* db, const std::string& sql, const Where& w) {
  SqliteStatement s(db, sql);
  bind_where(s, w);
  std::vector<RunRecord> out;
  while (s.step()) out.push_back(record_of(s));
  return out;
}

// One transaction; the destructor rolls back whatever did not reach commit(). A write one
// (BEGIN IMMEDIATE) takes the write lock up front (waiting up to the busy timeout), so two
// writers never both read and then fail to upgrade. A read one (BEGIN) holds one snapshot for
// all its reads and never waits for writers (WAL).
class Transaction {
 public:
  enum class Mode { read, write };
  Transaction(sqlite3* db, Mode mode) : db_(db) { sqlite_exec(db_, mode == Mode::write ? "BEGIN IMMEDIATE" : "BEGIN"); }
  ~Transaction() {
    if (!committed_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    sqlite_exec(db_, "COMMIT");
    committed_ = true;
  }

 private:
  sqlite3* db_;
  bool committed_ = false;
};

bool is_not_a_database(sqlite3* db) {
  const int code = sqlite3_errcode(db);
  return code == SQLITE_NOTADB || code == SQLITE_CORRUPT;
}

// WAL lets readers run beside one writer and keeps every committed transaction through a crash
// of the writer. Switching the journal mode needs a moment alone with the file, so a store
// opened by many processes at once may see SQLITE_BUSY here even with a busy timeout: retry.
void enable_wal(sqlite3* db, const std::string& path) {
  for (int attempt = 0;; ++attempt) {
    const int rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return;
    if (is_not_a_database(db))
      throw InputError(fmt::format("--results-db {}: not a results database (not SQLite): give another path", path));
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || attempt * 10 > kBusyTimeoutMs)
      throw_sqlite_error(db, "journal mode");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int read_schema_version(sqlite3* db) {
  SqliteStatement s(db, "SELECT version FROM schema_version");
  return s.step() ? int(s.column_int(0)) : 0;
}

bool table_exists(sqlite3* db, const char* name) {
  SqliteStatement s(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  s.bind(1, std::string(name));
  return s.step();
}

int64_t table_count(sqlite3* db) {
  SqliteStatement s(db, "SELECT COUNT(*) FROM sqlite_master");
  s.step();
  return s.column_int(0);
}

void refuse_newer(int version, const std::string& path) {
  const int newest = ResultsStore::current_schema_version();
  if (version > newest)
    throw InputError(fmt::format("--results-db {}: schema version {} is newer than this moebench knows ({}): use a "
                                 "newer moebench",
                                 path, version, newest));
}

// The schema version as a plain read, without the write lock: 0 for a file without the table.
int peek_schema_version(sqlite3* db) { return table_exists(db, "schema_version") ? read_schema_version(db) : 0; }

// Brings the schema to the current version in one transaction, so concurrent openers of a new
// file create it once and a crash leaves the old version whole. A current schema is found by
// reading alone, so opening for a read-only command never waits behind a writer nor needs a
// writable file; only an older schema takes the write lock and reads the version again under it.
void migrate(sqlite3* db, const std::string& path) {
  const int seen = peek_schema_version(db);
  refuse_newer(seen, path);
  if (seen == ResultsStore::current_schema_version()) return;
  Transaction t(db, Transaction::Mode::write);
  if (!table_exists(db, "schema_version")) {
    if (table_count(db) > 0)
      throw InputError(fmt::format("--results-db {}: a SQLite database that moebench did not create: give another "
                                   "path",
                                   path));
    sqlite_exec(db, "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (0)");
  }
  const int version = read_schema_version(db);
  const int newest = ResultsStore::current_schema_version();
  refuse_newer(version, path);
  if (version == newest) return;  // another opener migrated meanwhile: the destructor ends the transaction
  for (int v = version; v < newest; ++v) sqlite_exec(db, store_migrations()[size_t(v)]);
  sqlite_exec(db, fmt::format("UPDATE schema_version SET version = {}", newest));
  t.commit();
}

}  // namespace

int ResultsStore::current_schema_version() { return int(store_migrations().size()); }

ResultsStore::ResultsStore(const std::string& path, OpenMode mode) : path_(path) {
  namespace fs = std::filesystem;
  if (path.empty()) throw InputError("--results-db: empty path: give a file such as ./moebench_results.db");
  std::error_code ec;
  if (mode == OpenMode::must_exist && !fs::exists(path, ec))
    throw InputError(fmt::format("--results-db {}: no results database there: run layer, model or sweep first, or give "
                                 "the right path",
                                 path));
  if (fs::is_directory(path, ec))
    throw InputError(fmt::format("--results-db {}: is a directory: give a file path", path));
  fs::path dir = fs::path(path).parent_path();
  if (mode == OpenMode::create && !dir.empty() && !fs::is_directory(dir, ec))
    throw InputError(fmt::format("--results-db {}: directory {} does not exist", path, dir.string()));

  const int flags = SQLITE_OPEN_READWRITE | (mode == OpenMode::create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw InputError(fmt::format("--results-db {}: cannot open: {}", path, message));
  }
  try {
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    enable_wal(db_, path);
    // FULL: a commit is on disk before it returns, so even a machine crash keeps it.
    sqlite_exec(db_, "PRAGMA synchronous=FULL");
    migrate(db_, path);
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

ResultsStore::~ResultsStore() { sqlite3_close(db_); }

int ResultsStore::schema_version() const { return read_schema_version(db_); }

std::vector<int64_t> ResultsStore::record(const std::vector<RunRecord>& records) {
  const std::string now = utc_now_iso();
  Transaction t(db_, Transaction::Mode::write);
  SqliteStatement s(db_, fmt::format("INSERT INTO runs ({}) VALUES (NULL{})", kColumns, kTwentyPlaceholders));
  std::vector<int64_t> ids;
  for (const RunRecord& r : records) {
    const RunEnvironment& e = r.environment;
    const std::string finished = r.finished_at.empty() ? now : r.finished_at;
    const std::string texts[] = {
        r.kind,          r.model,          r.config,         run_status_name(r.status), r.error_type,
        r.error_message, dump(r.params),   dump(r.metrics),  dump(r.details),           e.host,
        e.backend,       e.device,         e.driver_version, e.cuda_version,            e.moebench_version,
        e.git_revision,  r.command_line,   r.group_id,       r.started_at.empty() ? finished : r.started_at,
        finished};
    int i = 1;
    for (const std::string& text : texts) s.bind(i++, text);
    s.step();
    s.reset();
    ids.push_back(sqlite3_last_insert_rowid(db_));
  }
  t.commit();
  return ids;
}

int64_t ResultsStore::record(const RunRecord& record) { return this->record(std::vector<RunRecord>{record}).front(); }

std::optional<RunRecord> ResultsStore::find(int64_t id) const {
  RunFilter f;
  f.ids = {id};
  std::vector<RunRecord> found = list(f);
  if (found.empty()) return std::nullopt;
  return found.front();
}

std::vector<RunRecord> ResultsStore::list(const RunFilter& filter) const {
  const Where w = where_of(filter);
  std::string sql = fmt::format("SELECT {} FROM runs WHERE {} ORDER BY id", kColumns, w.sql);
  if (filter.limit > 0)
    sql = fmt::format("SELECT * FROM (SELECT {} FROM runs WHERE {} ORDER BY id DESC LIMIT {}) ORDER BY id", kColumns,
                      w.sql, filter.limit);
  return query(db_, sql, w);
}

int64_t ResultsStore::count(const RunFilter& filter) const {
  const Where w = where_of(filter);
  SqliteStatement s(db_, fmt::format("SELECT COUNT(*) FROM runs WHERE {}", w.sql));
  bind_where(s, w);
  s.step();
  return s.column_int(0);
}

int64_t ResultsStore::remove(const RunFilter& filter) {
  const Where w = where_of(filter);
  Transaction t(db_, Transaction::Mode::write);
  SqliteStatement s(db_, fmt::format("DELETE FROM runs WHERE {}", w.sql));
  bind_where(s, w);
  s.step();
  const int64_t removed = sqlite3_changes64(db_);
  t.commit();
  return removed;
}

std::vector<RunRecord> ResultsStore::latest_successes(const RunFilter& filter) const {
  const Where w = where_of(filter);
  return query(db_,
               fmt::format("SELECT {} FROM runs WHERE id IN (SELECT MAX(id) FROM runs WHERE status = 'success' AND "
                           "kind <> 'sweep' AND {} GROUP BY model, config) ORDER BY model, config",
                           kColumns, w.sql),
               w);
}

std::vector<RunRecord> ResultsStore::latest_failures(const RunFilter& filter) const {
  const Where w = where_of(filter);
  // The success check looks at the whole store: a filter narrows what is listed, not what
  // counts as having succeeded.
  return query(db_,
               fmt::format("SELECT {} FROM runs WHERE id IN (SELECT MAX(id) FROM runs AS r WHERE status = 'failure' "
                           "AND kind <> 'sweep' AND {} AND NOT EXISTS (SELECT 1 FROM runs AS s WHERE s.model = "
                           "r.model AND s.config = r.config AND s.status = 'success' AND s.kind <> 'sweep') GROUP BY "
                           "model, config) ORDER BY model, config",
                           kColumns, w.sql),
               w);
}

ResultsStore::TrackerSnapshot ResultsStore::latest_results(const RunFilter& filter) const {
  Transaction t(db_, Transaction::Mode::read);
  TrackerSnapshot snapshot{latest_successes(filter), latest_failures(filter)};
  t.commit();
  return snapshot;
}

std::string ResultsStore::integrity_check() const {
  SqliteStatement s(db_, "PRAGMA integrity_check");
  std::string result;
  while (s.step()) {
    if (!result.empty()) result += '\n';
    result += s.column_text(0);
  }
  return result;
}

}  // namespace moebench
