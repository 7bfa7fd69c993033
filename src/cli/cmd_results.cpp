// moebench results: list / show / export / compare / delete what the store holds (SGLang's
// tracker files on `export --tracker-format`). Parsing only; the store is results/, the texts
// report/results_writers, the export formats bench/writers.
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "bench/writers.hpp"
#include "cli/command.hpp"
#include "cli/input_rules.hpp"
#include "cli/record_options.hpp"
#include "cli/vocabulary.hpp"
#include "core/errors.hpp"
#include "core/output_files.hpp"
#include "report/results_writers.hpp"
#include "results/compare.hpp"
#include "results/results_store.hpp"

namespace moebench::cli {

namespace {

struct ResultsCommandOptions {
  std::string results_db = kDefaultResultsDb;
  // Filters of list, export and delete.
  std::string model, kind, status, group;
  int64_t limit = 50;
  // show / compare / delete
  std::vector<int64_t> ids;
  // export
  std::string format = "markdown";
  std::string output_file;
  bool tracker_format = false;
  std::string output_dir = ".";
  // compare
  double threshold_pct = 5;
};

struct ResultsApps {
  CLI::App *results, *list, *show, *export_, *compare, *remove;
};

RunFilter filter_of(const ResultsCommandOptions& o) {
  RunFilter f;
  f.model = o.model;
  f.kind = o.kind;
  if (!o.status.empty()) f.status = parse_run_status(o.status);
  f.group_id = o.group;
  return f;
}

RunRecord find_run(const ResultsStore& store, int64_t id) {
  std::optional<RunRecord> r = store.find(id);
  if (!r)
    throw InputError(fmt::format("run id {}: no such run in {} (results list shows the ids)", id, store.path()));
  return *r;
}

// `db_given`: --results-db was on the command line. The default store not existing yet is no
// error: nothing has been recorded in this directory. A store the user named must exist.
int list_runs(const ResultsCommandOptions& o, bool db_given) {
  if (o.limit < 0) throw InputError(fmt::format("--limit must be >= 0 (got {}); 0 lists all", o.limit));
  RunFilter f = filter_of(o);
  f.limit = o.limit;
  if (!db_given && !std::filesystem::exists(o.results_db)) {
    std::printf("no results recorded yet in ./%s: run moebench layer or moebench model first\n",
                o.results_db.c_str());
    return 0;
  }
  ResultsStore store(o.results_db, ResultsStore::OpenMode::read_only);
  const std::vector<RunRecord> runs = store.list(f);
  std::fputs(results_list_table(runs).c_str(), stdout);
  const int64_t total = store.count(filter_of(o));
  if (total > int64_t(runs.size()))
    std::fprintf(stderr, "%zu of %lld runs shown (--limit 0 for all)\n", runs.size(), (long long)total);
  return 0;
}

int show_run(const ResultsCommandOptions& o) {
  ResultsStore store(o.results_db, ResultsStore::OpenMode::read_only);
  std::fputs(run_record_text(find_run(store, o.ids.front())).c_str(), stdout);
  return 0;
}

// One file to no --output-file goes to stdout; formats with fixed file names (--tracker-format:
// the tracker files) go into --output-dir; anything else needs --output-file as its base path.
int export_runs(const ResultsCommandOptions& o) {
  const std::vector<const WriterEntry*> writers = parse_writers(o.tracker_format ? "tracker" : o.format);
  const bool fixed_names = !writers.front()->in_all();
  std::string base = o.output_file, flag = "--output-file";
  if (fixed_names && (o.tracker_format || base.empty())) {
    if (!std::filesystem::is_directory(o.output_dir))
      throw InputError(fmt::format("--output-dir {}: no such directory", o.output_dir));
    base = (std::filesystem::path(o.output_dir) / "").string();
    flag = "--output-dir";
  }
  const bool to_stdout = base.empty() && writers.size() == 1 && writers.front()->files.size() == 1;
  if (base.empty() && !to_stdout)
    throw InputError(fmt::format("--output-format {}: writes several files: give --output-file", o.format));
  ResultsStore store(o.results_db, ResultsStore::OpenMode::read_only);
  const std::vector<RunRecord> runs = store.list(filter_of(o));
  const WriterContext context{RecordLayout::store, ""};
  if (to_stdout) {
    std::fputs(writers.front()->writer->write(runs, context).front().c_str(), stdout);
    return 0;
  }
  const std::vector<std::pair<std::string, std::string>> files = writer_files(writers, base, runs, context);
  write_files(files, flag);
  for (const auto& [path, text] : files) std::fprintf(stderr, "wrote %zu runs to %s\n", runs.size(), path.c_str());
  return 0;
}

int compare_two(const ResultsCommandOptions& o) {
  if (!(o.threshold_pct >= 0)) throw InputError(fmt::format("--threshold must be >= 0 (got {})", o.threshold_pct));
  ResultsStore store(o.results_db, ResultsStore::OpenMode::read_only);
  const RunRecord a = find_run(store, o.ids[0]), b = find_run(store, o.ids[1]);
  const std::vector<MetricComparison> rows = compare_runs(a, b, o.threshold_pct);
  if (rows.empty())
    throw InputError(fmt::format("results compare {} {}: the two runs share no metric (a failure has none)", a.id, b.id));
  std::fputs(compare_table(a, b, rows, o.threshold_pct).c_str(), stdout);
  return 0;
}

int delete_runs(const ResultsCommandOptions& o) {
  RunFilter f = filter_of(o);
  f.ids = o.ids;
  if (f.ids.empty() && f.model.empty() && f.kind.empty() && !f.status && f.group_id.empty())
    throw InputError("results delete: name what to delete: run ids, or --model, --kind, --status or --group");
  ResultsStore store(o.results_db, ResultsStore::OpenMode::must_exist);
  for (int64_t id : o.ids) find_run(store, id);  // an unknown id deletes nothing
  std::printf("deleted %lld runs\n", (long long)store.remove(f));
  return 0;
}

void add_filters(CLI::App& app, ResultsCommandOptions& o) {
  app.add_option("--model", o.model, "only this model");
  app.add_option("--kind", o.kind, "only layer, model or sweep records")->check(one_of({"layer", "model", "sweep"}));
  app.add_option("--status", o.status, "only success or failure");
  app.add_option("--group", o.group, "only one invocation's records (a layer run's or a sweep's group id)");
}

int run_results(const ResultsCommandOptions& o, const ResultsApps& apps) {
  if (apps.show->parsed()) return show_run(o);
  if (apps.export_->parsed()) return export_runs(o);
  if (apps.compare->parsed()) return compare_two(o);
  if (apps.remove->parsed()) return delete_runs(o);
  // `results` alone lists, as `results list` does.
  return list_runs(o, apps.results->count("--results-db") + apps.list->count("--results-db") > 0);
}

}  // namespace

Command add_results_command(CLI::App& app) {
  auto o = std::make_shared<ResultsCommandOptions>();
  CLI::App* sub = app.add_subcommand("results", "list, show, export, compare and delete stored results");
  sub->require_subcommand(0, 1);
  add_results_db_option(*sub, o->results_db);
  ResultsApps apps;
  apps.results = sub;

  apps.list = sub->add_subcommand("list", "the stored runs, newest last (the default)");
  add_results_db_option(*apps.list, o->results_db);
  add_filters(*apps.list, *o);
  apps.list->add_option("--limit", o->limit, "the newest N runs; 0 = all")->capture_default_str();

  apps.show = sub->add_subcommand("show", "every field of one run");
  add_results_db_option(*apps.show, o->results_db);
  apps.show->add_option("id", o->ids, "run id")->required()->expected(1);

  apps.export_ = sub->add_subcommand("export", "the stored runs in an output format (--output-format)");
  add_results_db_option(*apps.export_, o->results_db);
  add_filters(*apps.export_, *o);
  add_output_format(*apps.export_, o->format, output_format_help())->capture_default_str();
  apps.export_->footer(output_formats_footer());
  apps.export_->add_option("--output-file", o->output_file,
                           "write here instead of stdout (the base path when a format writes several files)");
  apps.export_->add_flag("--tracker-format,--seed-format", o->tracker_format,
                         "SGLang's tracker files success_results.json and failure_results.json into --output-dir "
                         "(= --output-format tracker)");
  apps.export_->add_option("--output-dir", o->output_dir, "directory of the tracker files")->capture_default_str();

  apps.compare = sub->add_subcommand("compare", "run B against run A, metric by metric");
  add_results_db_option(*apps.compare, o->results_db);
  apps.compare->add_option("ids", o->ids, "run ids A B")->required()->expected(2);
  apps.compare->add_option("--threshold", o->threshold_pct, "percent change that is flagged better or REGRESSION")
      ->capture_default_str();

  apps.remove = sub->add_subcommand("delete", "delete runs by id or by filter");
  add_results_db_option(*apps.remove, o->results_db);
  add_filters(*apps.remove, *o);
  apps.remove->add_option("ids", o->ids, "run ids");

  return {sub, [o, apps] { return run_results(*o, apps); }};
}

}  // namespace moebench::cli
