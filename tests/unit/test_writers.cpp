// The registry of output formats: every registered name is an --output-format value that
// writes its files, `all` and `both`, an unknown name refused with the list of names, where
// files go, and the tracker format's latest-per-key rule.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/writers.hpp"
#include "core/errors.hpp"
#include "results/results_store.hpp"
#include "unit/results_fixture.hpp"

using namespace moebench;
using moebench::testing::CliResult;
using moebench::testing::expect_bad_input;
using moebench::testing::fresh_db_path;
using moebench::testing::fresh_temp_dir;
using moebench::testing::run_moebench;
using moebench::testing::slurp;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> names_of(const std::vector<const WriterEntry*>& writers) {
  std::vector<std::string> names;
  for (const WriterEntry* w : writers) names.push_back(w->name);
  return names;
}

std::string two_run_store() {
  const std::string db = fresh_db_path("writers");
  ResultsStore store(db);
  store.record(moebench::testing::layer_record("m", "a", 1.5));
  store.record(moebench::testing::failure_record("m", "b", "OOM", "out of memory"));
  return db;
}

}  // namespace

TEST(WriterRegistry, EveryNameIsFoundAndAllAndBothAreSets) {
  std::set<std::string> seen;
  for (const WriterEntry& w : writer_registry()) {
    EXPECT_TRUE(seen.insert(w.name).second) << "registered twice: " << w.name;
    EXPECT_FALSE(w.description.empty()) << w.name;
    ASSERT_FALSE(w.files.empty()) << w.name;
    EXPECT_EQ(parse_writers(w.name), std::vector<const WriterEntry*>{&w});
    EXPECT_NE(output_format_help().find(w.name), std::string::npos) << w.name;
  }
  // Every command with --output-format lists each format with its description in its help.
  for (const char* command : {"layer", "model", "results export"}) {
    CliResult help = run_moebench(std::string(command) + " --help");
    ASSERT_EQ(help.exit_code, 0) << command;
    for (const WriterEntry& w : writer_registry())
      EXPECT_NE(help.out.find(w.description), std::string::npos) << command << ": " << w.name << "\n" << help.out;
  }
  EXPECT_EQ(names_of(parse_writers("all")), (std::vector<std::string>{"csv", "markdown", "json"}));
  EXPECT_EQ(names_of(parse_writers("both")), (std::vector<std::string>{"csv", "markdown"}));
}

TEST(WriterRegistry, UnknownNameListsTheRegisteredOnes) {
  std::string names;
  for (const WriterEntry& w : writer_registry()) names += w.name + ", ";
  const std::string expected = "--output-format: unknown format 'bogus': use " + names + "all or both";
  try {
    parse_writers("bogus");
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), expected);
  }
  EXPECT_THROW(parse_writers("CSV"), InputError);
  EXPECT_THROW(parse_writers(""), InputError);
  expect_bad_input("results export --output-format bogus --results-db " + two_run_store(), expected);
}

TEST(WriterRegistry, FixedNamesGoIntoADirectoryOrBesideTheBasePath) {
  const fs::path dir = fresh_temp_dir("writer-paths");
  const std::vector<const WriterEntry*> tracker = parse_writers("tracker");
  const std::vector<std::string> in_dir = {(dir / "success_results.json").string(),
                                           (dir / "failure_results.json").string()};
  EXPECT_EQ(writer_paths(tracker, dir.string()), in_dir);
  EXPECT_EQ(writer_paths(tracker, (dir / "results").string()), in_dir);
  EXPECT_EQ(writer_paths(parse_writers("all"), (dir / "r").string()),
            (std::vector<std::string>{(dir / "r.csv").string(), (dir / "r.md").string(), (dir / "r.json").string()}));
  EXPECT_THROW(writer_paths(tracker, ""), InputError);
  fs::remove_all(dir);
}

// A format added to the registry is an --output-format of `results export` with nothing else
// to change: every one writes its files from the same records.
TEST(WriterRegistry, ResultsExportWritesEveryRegisteredFormat) {
  const std::string db = two_run_store();
  const fs::path dir = fresh_temp_dir("writer-export");
  for (const WriterEntry& w : writer_registry()) {
    SCOPED_TRACE(w.name);
    const fs::path base = dir / w.name / "export";
    fs::create_directories(base.parent_path());
    CliResult r =
        run_moebench("results export --output-format " + w.name + " --output-file " + base.string() +
                     " --results-db " + db);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const std::string& path : writer_paths({&w}, base.string())) {
      EXPECT_TRUE(fs::exists(path)) << path;
      EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
    }
  }
  fs::remove_all(dir);
}

TEST(TrackerFormat, LatestSuccessPerKeyAndFailuresOnlyWithoutOne) {
  RunRecord old_ok = moebench::testing::layer_record("m", "a", 2.0);
  RunRecord new_ok = moebench::testing::layer_record("m", "a", 1.0);
  RunRecord failed_after = moebench::testing::failure_record("m", "a", "OOM", "later failure");
  RunRecord failed_before = moebench::testing::failure_record("m", "b", "Timeout", "first");
  RunRecord fixed = moebench::testing::layer_record("m", "b", 3.0);
  RunRecord only_failed = moebench::testing::failure_record("m", "c", "OOM", "never ran");
  const std::vector<std::string> texts = parse_writers("tracker").front()->writer->write(
      {old_ok, failed_before, new_ok, failed_after, fixed, only_failed}, WriterContext{});
  ASSERT_EQ(texts.size(), 2u);
  const auto successes = nlohmann::json::parse(texts[0]), failures = nlohmann::json::parse(texts[1]);
  EXPECT_EQ(successes.size(), 2u);
  EXPECT_DOUBLE_EQ(successes["m::a"]["latency_mean_ms"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(successes["m::b"]["latency_mean_ms"].get<double>(), 3.0);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures["m::c"]["error_message"], "never ran");
}
