#pragma once
// A prepared SQLite statement that finalizes itself, and the few calls the store makes through
// it. Every failure throws StoreError with SQLite's own message.
#include <cstdint>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace moebench {

class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, const std::string& sql);
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Parameters are numbered from 1, as in SQLite.
  void bind(int index, const std::string& value);
  void bind(int index, int64_t value);
  // Runs one step: true while a row is available.
  bool step();
  void reset();

  int64_t column_int(int index) const;
  std::string column_text(int index) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Runs SQL that returns no rows (several statements allowed).
void sqlite_exec(sqlite3* db, const std::string& sql);
// Throws StoreError "results store: WHAT: <sqlite message>"; for a corrupt file, says it is
// damaged and how to recover it.
[[noreturn]] void throw_sqlite_error(sqlite3* db, const std::string& what);

}  // namespace moebench
