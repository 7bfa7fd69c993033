// moebench report: stored results -> four gnuplot PNGs, report.md beside them, report.html with
// them embedded; bad inputs get one line, exit 2 and nothing written.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "cli_runner.hpp"
#include "report/base64.hpp"
#include "report/gnuplot.hpp"
#include "report/report_document.hpp"
#include "report/report_plots.hpp"
#include "results/results_store.hpp"

namespace fs = std::filesystem;
using moebench::testing::CliResult;
using moebench::testing::expect_bad_input;
using moebench::testing::fresh_temp_dir;
using moebench::testing::run_moebench;
using moebench::testing::slurp;

namespace {

const char* const kPlots[] = {"latency_comparison.png", "memory_breakdown.png", "throughput_scaling.png",
                              "expert_load_distribution.png"};

moebench::RunRecord layer_row(const std::string& model, const std::string& impl, const std::string& scenario,
                              int64_t tokens, int tp, double mean_ms, std::vector<int64_t> loads) {
  moebench::RunRecord r;
  r.kind = "layer";
  r.model = model;
  r.config = fmt::format("TP{}_EP1_{}_{}_T{}_bf16", tp, impl, scenario, tokens);
  r.params = {{"impl", impl}, {"scenario", scenario}, {"num_tokens", tokens},
              {"dtype", "bf16"}, {"tp_size", tp},      {"ep_size", 1}};
  r.metrics = {{"latency_mean_ms", mean_ms},
               {"latency_p50_ms", mean_ms},
               {"latency_p95_ms", mean_ms * 1.1},
               {"throughput_tok_per_s", tokens * tp / mean_ms * 1e3}};
  r.details = {{"load", {{"max_load", 3}, {"min_load", 1}, {"max_imbalance", 1.5}, {"expert_loads", loads}}}};
  r.environment.device = "test GPU";
  r.command_line = "moebench layer";
  return r;
}

// Seed 004's small preset (it has a decoder stack: the memory plot counts it) with two
// implementations, two GPU counts, an end-to-end run in seed 002's fields, and a failure.
void fill_store(const std::string& db) {
  moebench::ResultsStore store(db);
  std::vector<moebench::RunRecord> records;
  for (const char* scenario : {"random", "imbalanced"})
    for (int64_t tokens : {64, 512})
      for (int tp : {1, 2}) {
        std::vector<int64_t> loads = std::string(scenario) == "random" ? std::vector<int64_t>{3, 2, 1, 2, 2, 2, 2, 2}
                                                                         : std::vector<int64_t>{6, 1, 1, 1, 1, 2, 2, 2};
        for (int64_t& l : loads) l *= tokens / 8;
        records.push_back(layer_row("small", "naive", scenario, tokens, tp, 0.02 * double(tokens) / tp, loads));
        records.push_back(layer_row("small", "grouped", scenario, tokens, tp, 0.01 * double(tokens) / tp, loads));
      }
  moebench::RunRecord model;
  model.kind = "model";
  model.model = "small";
  model.config = "TP1_EP1_auto_bs8_in4096_out512_bf16";
  model.params = {{"batch_size", 8}, {"input_len", 4096}, {"output_len", 512}};
  model.metrics = {{"latency_s", 7.59}, {"output_throughput_tok_per_s", 539.7}};
  records.push_back(model);
  moebench::RunRecord failure = layer_row("small", "fused", "random", 64, 1, 1, {});
  failure.metrics = nlohmann::ordered_json::object();
  failure.status = moebench::RunStatus::failure;
  failure.error_type = "OOM";
  failure.error_message = "CUDA out of memory | tried 2 GiB";
  records.push_back(failure);
  store.record(records);
}

bool is_png(const std::string& bytes) { return bytes.size() > 100 && bytes.rfind("\x89PNG\r\n\x1a\n", 0) == 0; }

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Runs `args` with PATH emptied of gnuplot (the binary and the shell are found by full path).
CliResult run_without_gnuplot(const std::string& args) {
  const std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  setenv("PATH", "/nonexistent", 1);
  CliResult r = run_moebench(args);
  setenv("PATH", saved.c_str(), 1);
  return r;
}

}  // namespace

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(moebench::base64_encode(""), "");
  EXPECT_EQ(moebench::base64_encode("f"), "Zg==");
  EXPECT_EQ(moebench::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(moebench::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(moebench::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(moebench::base64_encode(std::string("\x89PNG\r\n\x1a\n", 8)), "iVBORw0KGgo=");
}

TEST(ReportDocument, MarkdownAndHtmlSayTheSame) {
  moebench::ReportDocument doc;
  doc.title = "t <&>";
  doc.heading("Section");
  doc.paragraph("a < b");
  doc.table({"name", "ms"}, {{"x|y", "1.50"}, {"z", "2.00x"}});
  doc.image("p.png", "caption");
  const std::string md = moebench::render_markdown(doc);
  EXPECT_NE(md.find("# t <&>\n"), std::string::npos);
  EXPECT_NE(md.find("| name | ms |\n|---|---:|\n| x\\|y | 1.50 |"), std::string::npos) << md;
  EXPECT_NE(md.find("![caption](p.png)"), std::string::npos);
  const std::string html = moebench::render_html(doc, {{"p.png", "PNG!"}});
  EXPECT_NE(html.find("<h1>t &lt;&amp;&gt;</h1>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">2.00x</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("<img src=\"data:image/png;base64,UE5HIQ==\""), std::string::npos);
  EXPECT_THROW(moebench::render_html(doc, {}), std::logic_error);  // an image never rendered is a bug
}

TEST(ReportPlots, NothingToShowIsSaidNotDrawn) {
  moebench::ReportData data;
  EXPECT_FALSE(moebench::latency_comparison_plot(data).made);
  EXPECT_FALSE(moebench::throughput_scaling_plot(data).made);
  moebench::LayerRow row;
  row.model = "m";
  row.impl = "naive";
  row.scenario = "random";
  row.num_tokens = 8;
  row.mean_ms = 1;
  row.throughput_tok_per_s = 8000;
  data.layers = {row};
  data.model_names = {"m"};
  EXPECT_TRUE(moebench::latency_comparison_plot(data).made);
  moebench::PlannedPlot loads = moebench::expert_load_plot(data);
  EXPECT_FALSE(loads.made);
  EXPECT_NE(loads.why_not.find("per-expert loads"), std::string::npos);
  moebench::MemorySettings settings;
  moebench::MemoryBars memory = moebench::memory_bars({{"manual-e8-k2-h64-i64", "bf16"}, {"small", "bf16"}}, settings);
  ASSERT_EQ(memory.bars.size(), 1u);
  EXPECT_EQ(memory.bars[0].model, "small");
  EXPECT_GT(memory.bars[0].expert_weights, 2.9);  // 16 layers x 8 experts x 3 x 1024 x 4096 x 2 B = 3 GiB
  EXPECT_LT(memory.bars[0].expert_weights, 3.1);
  ASSERT_EQ(memory.skipped.size(), 1u);
  EXPECT_NE(memory.skipped[0].find("manual-e8-k2-h64-i64"), std::string::npos);
}

TEST(ReportPlots, GpuCountsGetAnIdealScalingLine) {
  moebench::ReportData data;
  for (int tp : {1, 2, 4}) {
    moebench::LayerRow row;
    row.model = "m";
    row.impl = "grouped";
    row.scenario = "random";
    row.num_tokens = 512;
    row.tp_size = tp;
    row.mean_ms = 1.0 / tp;
    row.throughput_tok_per_s = 512000.0 * tp;
    data.layers.push_back(row);
  }
  data.model_names = {"m"};
  moebench::PlannedPlot plot = moebench::throughput_scaling_plot(data);
  ASSERT_TRUE(plot.made);
  EXPECT_NE(plot.spec.script.find("dt 2"), std::string::npos) << plot.spec.script;
  bool gpus_data = false;
  for (const auto& [name, text] : plot.spec.data) gpus_data |= name == "gpus_0.dat" && text == "1 512000\n2 1.024e+06\n4 2.048e+06\n";
  EXPECT_TRUE(gpus_data);
}

TEST(ReportCli, WritesMarkdownPngsAndSelfContainedHtml) {
  if (!moebench::gnuplot_available()) GTEST_SKIP() << "gnuplot is not installed here";
  auto dir = fresh_temp_dir("report");
  const std::string db = (dir / "results.db").string();
  fill_store(db);
  // A real layer run recorded by the binary, beside the inserted rows.
  CliResult layer = run_moebench(
      "layer --backend cpu --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 128 "
      "--intermediate-size 128 --num-tokens 16,32 --benchmark-iters 2 --quiet --results-db '" + db + "'");
  ASSERT_EQ(layer.exit_code, 0) << layer.err;

  CliResult r = run_moebench("report --results-db '" + db + "' --output-dir '" + (dir / "out").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* png : kPlots) {
    SCOPED_TRACE(png);
    EXPECT_TRUE(is_png(slurp(dir / "out" / png)));
    EXPECT_NE(r.out.find(png), std::string::npos);
  }
  const std::string md = slurp(dir / "out" / "report.md");
  for (const char* png : kPlots) EXPECT_NE(md.find(std::string("](") + png + ")"), std::string::npos) << png;
  EXPECT_NE(md.find("manual-e8-k2-h128-i128"), std::string::npos);  // the recorded layer run, with its loads
  EXPECT_NE(md.find("| small | random | 64 | 1 | grouped | 0.6400 |"), std::string::npos) << md;
  EXPECT_NE(md.find("2.00x"), std::string::npos);  // grouped against naive
  EXPECT_NE(md.find("TP1_EP1_auto_bs8_in4096_out512_bf16 (end to end) | 8 | 1 | 540"), std::string::npos);
  EXPECT_NE(md.find("| OOM | CUDA out of memory \\| tried 2 GiB |"), std::string::npos);
  const std::string html = slurp(dir / "out" / "report.html");
  EXPECT_EQ(count_of(html, "<img src=\"data:image/png;base64,iVBORw0KGgo"), 4u);
  EXPECT_EQ(html.find("src=\"latency"), std::string::npos);  // nothing outside the file
  fs::remove_all(dir);
}

TEST(ReportCli, FormatsFiltersAndNoPlots) {
  auto dir = fresh_temp_dir("report-opts");
  const std::string db = (dir / "results.db").string();
  fill_store(db);
  const std::string base = "report --results-db '" + db + "' --output-dir ";
  // Tables only: no gnuplot needed.
  CliResult tables = run_without_gnuplot(base + "'" + (dir / "tables").string() + "' --no-plots --format md");
  ASSERT_EQ(tables.exit_code, 0) << tables.err;
  EXPECT_EQ(std::vector<fs::path>(fs::directory_iterator(dir / "tables"), {}).size(), 1u);
  const std::string md = slurp(dir / "tables" / "report.md");
  EXPECT_EQ(md.find(".png"), std::string::npos);
  EXPECT_NE(md.find("## Expert load distribution"), std::string::npos);
  // --kind model leaves the layer rows out; --since in the past keeps everything.
  CliResult models = run_without_gnuplot(base + "'" + (dir / "models").string() +
                                         "' --no-plots --format html --kind model --since 2020-01-01");
  ASSERT_EQ(models.exit_code, 0) << models.err;
  EXPECT_FALSE(fs::exists(dir / "models" / "report.md"));
  const std::string html = slurp(dir / "models" / "report.html");
  EXPECT_NE(html.find("0 layer results, 1 end-to-end results"), std::string::npos) << html;
  fs::remove_all(dir);
}

TEST(ReportCli, BadInputsWriteNothing) {
  auto dir = fresh_temp_dir("report-bad");
  const std::string db = (dir / "results.db").string();
  const std::string out = (dir / "out").string();
  expect_bad_input("report --results-db '" + db + "' --output-dir '" + out + "'", "--results-db");  // missing
  moebench::ResultsStore{db};  // created, empty
  expect_bad_input("report --results-db '" + db + "' --output-dir '" + out + "'", "no results");
  fill_store(db);
  const std::string base = "report --results-db '" + db + "' --output-dir '" + out + "'";
  expect_bad_input(base + " --model nonesuch", "match --model/--kind/--since");
  expect_bad_input(base + " --since 2999-01-01", "match --model/--kind/--since");
  expect_bad_input(base + " --since yesterday", "--since");
  expect_bad_input(base + " --kind sweep", "--kind");
  expect_bad_input(base + " --format pdf", "--format");
  expect_bad_input(base + " --batch-size 0", "--batch-size");
  std::ofstream(dir / "a-file") << "x";
  expect_bad_input("report --results-db '" + db + "' --output-dir '" + (dir / "a-file").string() + "'",
                   "--output-dir");
  CliResult no_gnuplot = run_without_gnuplot(base);
  EXPECT_EQ(no_gnuplot.exit_code, 2);
  EXPECT_EQ(no_gnuplot.stderr_lines(), 1) << no_gnuplot.err;
  EXPECT_NE(no_gnuplot.err.find("gnuplot-nox"), std::string::npos) << no_gnuplot.err;
  EXPECT_FALSE(fs::exists(out));
  fs::remove_all(dir);
}

TEST(ReportCli, HelpListsFlagsWithDefaults) {
  CliResult help = run_moebench("report --help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--results-db", "--model", "--kind", "--since", "--output-dir", "--format", "--no-plots",
                           "moebench_results.db", "./report", "--batch-size", "--input-len"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
}
