#pragma once
// Helpers for the tests that run `layer` and `model` jobs in the test process (test_layer_job,
// test_model_job): a scratch directory per test, a MOEBENCH_TEST_FAULT set for one scope, and
// the records a job left in a store.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "results/results_store.hpp"
#include "unit/cli_runner.hpp"

namespace moebench::testing {

// A fresh directory, removed with the fixture.
struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(const std::string& tag) : path(fresh_temp_dir(tag)) {}
  ~ScratchDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// MOEBENCH_TEST_FAULT=`fault` for the life of the guard (core/test_fault.hpp).
struct TestFault {
  explicit TestFault(const char* fault) { ::setenv("MOEBENCH_TEST_FAULT", fault, 1); }
  ~TestFault() { ::unsetenv("MOEBENCH_TEST_FAULT"); }
};

inline std::vector<RunRecord> stored_records(const std::string& db) {
  return ResultsStore(db, ResultsStore::OpenMode::must_exist).list();
}

}  // namespace moebench::testing
