// --output-format jsonl appends one line per result, so one file collects many runs; every other
// format replaces its file and says so on stderr ("moebench: replacing PATH"), never silently.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/writers.hpp"
#include "cli_runner.hpp"

namespace fs = std::filesystem;
using moebench::testing::CliResult;
using moebench::testing::fresh_temp_dir;
using moebench::testing::run_moebench;
using moebench::testing::slurp;

namespace {

const std::string kTiny =
    "layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 64 "
    "--intermediate-size 128 --benchmark-iters 2 --quiet --scenarios random";

std::vector<nlohmann::json> lines_of(const fs::path& p) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(slurp(p));
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(JsonlOutput, AppendsOneLinePerResultRunAfterRun) {
  const fs::path dir = fresh_temp_dir("jsonl");
  const fs::path file = dir / "runs.jsonl";
  CliResult a = run_moebench(kTiny + " --num-tokens 8,16 --output-format jsonl --output-file '" + file.string() + "'");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(lines_of(file).size(), 2u);
  CliResult b = run_moebench(kTiny + " --num-tokens 24 --output-format jsonl --output-file '" + file.string() + "'");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(b.err.find("moebench: replacing"), std::string::npos) << b.err;
  const std::vector<nlohmann::json> lines = lines_of(file);
  ASSERT_EQ(lines.size(), 3u);
  std::vector<int64_t> tokens;
  for (const nlohmann::json& l : lines) {
    EXPECT_TRUE(l.contains("schema_version"));
    EXPECT_EQ(l["kind"], "layer");
    EXPECT_EQ(l["status"], "success");
    tokens.push_back(l["params"]["num_tokens"].get<int64_t>());
  }
  EXPECT_EQ(tokens, (std::vector<int64_t>{8, 16, 24}));
  // The two runs are told apart by their group.
  EXPECT_EQ(lines[0]["group_id"], lines[1]["group_id"]);
  EXPECT_NE(lines[0]["group_id"], lines[2]["group_id"]);
  fs::remove_all(dir);
}

TEST(JsonlOutput, AFileWithoutAFinalNewlineStillGetsWholeLines) {
  const fs::path dir = fresh_temp_dir("jsonl_nl");
  const fs::path file = dir / "runs.jsonl";
  std::ofstream(file) << "{\"earlier\": 1}";
  CliResult a = run_moebench(kTiny + " --num-tokens 8 --output-format jsonl --output-file '" + file.string() + "'");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const std::vector<nlohmann::json> lines = lines_of(file);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["earlier"], 1);
  fs::remove_all(dir);
}

TEST(JsonlOutput, OtherFormatsSayTheyReplaceAFile) {
  const fs::path dir = fresh_temp_dir("replacing");
  const std::string base = (dir / "res").string();
  CliResult a = run_moebench(kTiny + " --num-tokens 8 --output-format csv --output-file '" + base + "'");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.err.find("moebench: replacing"), std::string::npos) << a.err;  // nothing was there
  CliResult b = run_moebench(kTiny + " --num-tokens 8 --output-format csv --output-file '" + base + "'");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.err.find("moebench: replacing " + base + ".csv"), std::string::npos) << b.err;
  fs::remove_all(dir);
}

TEST(JsonlOutput, NotPartOfAll) {
  for (const moebench::WriterEntry* w : moebench::parse_writers("all")) EXPECT_NE(w->name, "jsonl");
  ASSERT_EQ(moebench::parse_writers("jsonl").size(), 1u);
  EXPECT_TRUE(moebench::parse_writers("jsonl")[0]->appends);
}

}  // namespace

// --run-name tags a run: every record of it carries the name as its group, which `results list
// --group` filters and the jsonl lines show; two runs given one name share it.
TEST(RunName, TagsEveryRecordOfTheRun) {
  const fs::path dir = fresh_temp_dir("run_name");
  const std::string db = (dir / "store.db").string(), file = (dir / "runs.jsonl").string();
  for (const char* name : {"before", "after", "after"}) {
    CliResult r = run_moebench(kTiny + " --num-tokens 8,16 --run-name " + name + " --results-db '" + db +
                               "' --output-format jsonl --output-file '" + file + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::vector<std::string> groups;
  for (const nlohmann::json& l : lines_of(file)) groups.push_back(l["group_id"]);
  EXPECT_EQ(groups, (std::vector<std::string>{"before", "before", "after", "after", "after", "after"}));
  CliResult list = run_moebench("results list --limit 0 --group before --results-db '" + db + "'");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::istringstream rows(list.out);
  int layer_rows = 0;
  for (std::string line; std::getline(rows, line);) layer_rows += line.find(" layer ") != std::string::npos;
  EXPECT_EQ(layer_rows, 2) << list.out;
  CliResult show = run_moebench("results show 3 --results-db '" + db + "'");
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("group         after"), std::string::npos) << show.out;
  fs::remove_all(dir);
}
