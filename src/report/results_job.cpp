// `moebench results`' run: list, show, export, compare and delete over the store
// (results_job.hpp).
#include "report/results_job.hpp"

#include <cstdio>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "bench/writers.hpp"
#include "core/errors.hpp"
#include "core/output_files.hpp"
#include "report/results_writers.hpp"
#include "results/compare.hpp"

namespace moebench {

namespace {

RunFilter filter_of(const ResultsJob& o) {
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

int list_runs(const ResultsJob& o) {
  if (o.limit < 0) throw InputError(fmt::format("--limit must be >= 0 (got {}); 0 lists all", o.limit));
  RunFilter f = filter_of(o);
  f.limit = o.limit;
  if (!o.results_db_given && !std::filesystem::exists(o.results_db)) {
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

int show_run(const ResultsJob& o) {
  ResultsStore store(o.results_db, ResultsStore::OpenMode::read_only);
  std::fputs(run_record_text(find_run(store, o.ids.front())).c_str(), stdout);
  return 0;
}

int export_runs(const ResultsJob& o) {
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

int compare_run_names_job(const ResultsJob& o) {
  ResultsStore store(o.results_db, ResultsStore::OpenMode::read_only);
  std::vector<std::vector<RunRecord>> runs;
  for (const std::string& name : o.run_names) {
    RunFilter f;
    f.group_id = name;
    runs.push_back(store.list(f));
    if (runs.back().empty())
      throw InputError(fmt::format("results compare --run-name: no records of run '{}' in {}", name, o.results_db));
  }
  const RunNameComparison c = compare_run_names(runs[0], runs[1], o.threshold_pct);
  if (c.rows.empty())
    throw InputError(fmt::format("results compare --run-name {} {}: the two runs share no configuration with latency "
                                 "figures", o.run_names[0], o.run_names[1]));
  std::fputs(run_name_compare_table(o.run_names[0], o.run_names[1], c, o.threshold_pct).c_str(), stdout);
  return 0;
}

int compare_two(const ResultsJob& o) {
  if (!(o.threshold_pct >= 0)) throw InputError(fmt::format("--threshold must be >= 0 (got {})", o.threshold_pct));
  if (!o.run_names.empty() && !o.ids.empty())
    throw InputError("results compare: give run ids A B or --run-name A B, not both");
  if (!o.run_names.empty()) return compare_run_names_job(o);
  if (o.ids.size() != 2) throw InputError("results compare: give two run ids A B, or --run-name A B");
  ResultsStore store(o.results_db, ResultsStore::OpenMode::read_only);
  const RunRecord a = find_run(store, o.ids[0]), b = find_run(store, o.ids[1]);
  const std::vector<MetricComparison> rows = compare_runs(a, b, o.threshold_pct);
  if (rows.empty())
    throw InputError(fmt::format("results compare {} {}: the two runs share no metric (a failure has none)", a.id, b.id));
  std::fputs(compare_table(a, b, rows, o.threshold_pct).c_str(), stdout);
  return 0;
}

int delete_runs(const ResultsJob& o) {
  RunFilter f = filter_of(o);
  f.ids = o.ids;
  if (f.ids.empty() && f.model.empty() && f.kind.empty() && !f.status && f.group_id.empty())
    throw InputError("results delete: name what to delete: run ids, or --model, --kind, --status or --group");
  ResultsStore store(o.results_db, ResultsStore::OpenMode::must_exist);
  for (int64_t id : o.ids) find_run(store, id);  // an unknown id deletes nothing
  std::printf("deleted %lld runs\n", (long long)store.remove(f));
  return 0;
}

}  // namespace

int run_results_job(const ResultsJob& job) {
  switch (job.action) {
    case ResultsAction::show: return show_run(job);
    case ResultsAction::export_runs: return export_runs(job);
    case ResultsAction::compare: return compare_two(job);
    case ResultsAction::remove: return delete_runs(job);
    case ResultsAction::list: break;
  }
  return list_runs(job);
}

}  // namespace moebench
