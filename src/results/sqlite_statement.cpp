#include "results/sqlite_statement.hpp"

#include <sqlite3.h>

#include <fmt/format.h>

#include "results/results_store.hpp"

namespace moebench {

void throw_sqlite_error(sqlite3* db, const std::string& what) {
  if (db && sqlite3_errcode(db) == SQLITE_CORRUPT) {
    const char* file = sqlite3_db_filename(db, "main");
    const std::string path = file && *file ? file : "the store";
    throw StoreError(fmt::format("results store {} is damaged ({}: {}): recover what it holds with sqlite3 {} "
                                 "'.recover' | sqlite3 NEW.db and give --results-db NEW.db",
                                 path, what, sqlite3_errmsg(db), path));
  }
  throw StoreError(fmt::format("results store: {}: {}", what, db ? sqlite3_errmsg(db) : "cannot open"));
}

void sqlite_exec(sqlite3* db, const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    throw StoreError(fmt::format("results store: {}", text));
  }
}

SqliteStatement::SqliteStatement(sqlite3* db, const std::string& sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql.c_str(), int(sql.size()), &stmt_, nullptr) != SQLITE_OK)
    throw_sqlite_error(db, "prepare");
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

void SqliteStatement::bind(int index, const std::string& value) {
  if (sqlite3_bind_text(stmt_, index, value.data(), int(value.size()), SQLITE_TRANSIENT) != SQLITE_OK)
    throw_sqlite_error(db_, "bind");
}

void SqliteStatement::bind(int index, int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) throw_sqlite_error(db_, "bind");
}

bool SqliteStatement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw_sqlite_error(db_, "step");
}

void SqliteStatement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t SqliteStatement::column_int(int index) const { return sqlite3_column_int64(stmt_, index); }

std::string SqliteStatement::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  return text ? std::string(reinterpret_cast<const char*>(text), size_t(sqlite3_column_bytes(stmt_, index)))
              : std::string();
}

}  // namespace moebench
