#include "results/results_store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "core/errors.hpp"
#include "core/path_checks.hpp"
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

// A row as a record; the metrics of a store read at an older schema get the current names.
RunRecord record_of(const SqliteStatement& s, int schema_version) {
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
  r.metrics = metrics_at_current_schema(r.metrics, r.kind, schema_version);
  return r;
}

std::vector<RunRecord> query(sqlite3* db, int schema_version, const std::string& sql, const Where& w) {
  SqliteStatement s(db, sql);
  bind_where(s, w);
  std::vector<RunRecord> out;
  while (s.step()) out.push_back(record_of(s, schema_version));
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

// The recovery advice of a damaged store: SQLite's own .recover copies out what it can read.
std::string damaged(const std::string& path, const std::string& why) {
  return fmt::format("--results-db {}: the results database is damaged ({}); it is left as it is: recover what it "
                     "holds with sqlite3 {} '.recover' | sqlite3 NEW.db and give --results-db NEW.db",
                     path, why, path);
}

std::string not_sqlite(const std::string& path) {
  return fmt::format("--results-db {}: not a results database (not SQLite): give another path", path);
}

uint32_t big_endian(const unsigned char* p, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

// What the file at `path` is, from its bytes alone, before SQLite opens it (SQLite would take a
// zero-byte file for an empty database and write one into it). Throws InputError for a file
// that is not SQLite at all, and for a SQLite file shorter than its header says (truncated).
// Returns false when there is no file or it is empty.
bool inspect_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) return false;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) throw InputError(fmt::format("--results-db {}: cannot read it: {}", path, ec.message()));
  if (size == 0) return false;
  static const char kMagic[16] = "SQLite format 3";  // and its NUL: the first 16 bytes of every SQLite file
  unsigned char header[100] = {};
  std::ifstream(path, std::ios::binary).read(reinterpret_cast<char*>(header), sizeof header);
  const size_t magic_bytes = std::min<uintmax_t>(size, sizeof kMagic);
  if (std::memcmp(header, kMagic, magic_bytes) != 0) throw InputError(not_sqlite(path));
  if (size < sizeof header) throw InputError(damaged(path, fmt::format("truncated: {} bytes, less than a header", size)));
  const uint32_t page_size = big_endian(header + 16, 2) == 1 ? 65536 : big_endian(header + 16, 2);
  const uint32_t pages = big_endian(header + 28, 4);
  // The page count is valid when the change counter matches the one it was written with.
  const bool count_valid = big_endian(header + 24, 4) == big_endian(header + 92, 4);
  if (count_valid && uintmax_t(page_size) * pages > size)
    throw InputError(damaged(path, fmt::format("truncated: {} of its {} bytes", size, uintmax_t(page_size) * pages)));
  return true;
}

// What an open connection holds, read without writing anything: the moebench schema version,
// 0 for a SQLite database with no table at all. Refuses a foreign database, a newer schema and
// a file SQLite finds corrupt.
int inspect_schema(sqlite3* db, const std::string& path) {
  sqlite3_stmt* stmt = nullptr;
  std::vector<std::string> tables;
  int rc = sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &stmt, nullptr);
  if (rc == SQLITE_OK)
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
      tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  sqlite3_finalize(stmt);
  const int code = sqlite3_errcode(db);
  if (rc != SQLITE_DONE) {
    if (code == SQLITE_NOTADB) throw InputError(not_sqlite(path));
    if (code == SQLITE_CORRUPT) throw InputError(damaged(path, sqlite3_errmsg(db)));
    throw_sqlite_error(db, "read the schema");
  }
  if (tables.empty()) return 0;
  const bool ours = std::find(tables.begin(), tables.end(), "schema_version") != tables.end() &&
                    std::find(tables.begin(), tables.end(), "runs") != tables.end();
  if (!ours)
    throw InputError(
        fmt::format("--results-db {}: a SQLite database that moebench did not create: give another path", path));
  int version = 0;
  try {
    version = read_schema_version(db);
  } catch (const StoreError&) {
    if (sqlite3_errcode(db) == SQLITE_CORRUPT) throw InputError(damaged(path, sqlite3_errmsg(db)));
    throw;
  }
  refuse_newer(version, path);
  return version;
}

// WAL lets readers run beside one writer and keeps every committed transaction through a crash
// of the writer. Switching the journal mode needs a moment alone with the file, so a store
// opened by many processes at once may see SQLITE_BUSY here even with a busy timeout: retry.
void enable_wal(sqlite3* db) {
  for (int attempt = 0;; ++attempt) {
    const int rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return;
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || attempt * 10 > kBusyTimeoutMs)
      throw_sqlite_error(db, "journal mode");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Brings the schema to the current version in one transaction, so concurrent openers of a new
// file create it once and a crash leaves the old version whole. Only a store already known to
// be moebench's (or an empty one) gets here; the version is read again under the write lock.
void migrate(sqlite3* db, const std::string& path, int seen) {
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
  if (mode != OpenMode::create && !fs::exists(path, ec))
    throw InputError(fmt::format("--results-db {}: no results database there: run layer, model or sweep first, or give "
                                 "the right path",
                                 path));
  if (fs::is_directory(path, ec))
    throw InputError(fmt::format("--results-db {}: is a directory: give a file path", path));
  // Nothing is written to a file before it is known to be a moebench store (or an empty file
  // to create one in): its bytes first, then its tables, then WAL and the migrations.
  const bool has_content = inspect_file(path);
  if (mode == OpenMode::read_only && !has_content)
    throw InputError(fmt::format("--results-db {}: an empty file, not a results database: give the store that layer, "
                                 "model or sweep recorded into",
                                 path));
  // A store that is written must be writable before the run: the file, and its directory,
  // where SQLite keeps its -wal and -shm files.
  if (mode != OpenMode::read_only) check_writable_file(path, "--results-db", /*file_itself_written=*/true);

  const int flags = mode == OpenMode::read_only ? SQLITE_OPEN_READONLY
                                                : SQLITE_OPEN_READWRITE | (mode == OpenMode::create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw InputError(fmt::format("--results-db {}: cannot open: {}", path, message));
  }
  try {
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    schema_version_ = inspect_schema(db_, path);
    if (mode == OpenMode::read_only) {
      if (schema_version_ == 0)
        throw InputError(fmt::format("--results-db {}: an empty SQLite database, not a results database: give the store "
                                     "that layer, model or sweep recorded into",
                                     path));
      return;  // read as it is: an older schema's names are translated as records are read
    }
    enable_wal(db_);
    // FULL: a commit is on disk before it returns, so even a machine crash keeps it.
    sqlite_exec(db_, "PRAGMA synchronous=FULL");
    migrate(db_, path, schema_version_);
    schema_version_ = current_schema_version();
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

ResultsStore::~ResultsStore() { sqlite3_close(db_); }

int ResultsStore::schema_version() const { return schema_version_; }

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
  return query(db_, schema_version_, sql, w);
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
  return query(db_, schema_version_,
               fmt::format("SELECT {} FROM runs WHERE id IN (SELECT MAX(id) FROM runs WHERE status = 'success' AND "
                           "kind <> 'sweep' AND {} GROUP BY model, config) ORDER BY model, config",
                           kColumns, w.sql),
               w);
}

std::vector<RunRecord> ResultsStore::latest_failures(const RunFilter& filter) const {
  const Where w = where_of(filter);
  // The success check looks at the whole store: a filter narrows what is listed, not what
  // counts as having succeeded.
  return query(db_, schema_version_,
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
