// moebench results: list / show / export / compare / delete what the store holds (SGLang's
// tracker files on `export --tracker-format`). The flags fill a ResultsJob; the job itself is
// report/results_job.
#include "bench/writers.hpp"
#include "cli/command.hpp"
#include "cli/input_rules.hpp"
#include "cli/record_options.hpp"
#include "cli/vocabulary.hpp"
#include "report/results_job.hpp"

namespace moebench::cli {

namespace {

struct ResultsApps {
  CLI::App *results, *list, *show, *export_, *compare, *remove;
};

void add_filters(CLI::App& app, ResultsJob& o) {
  app.add_option("--model", o.model, "only this model");
  app.add_option("--kind", o.kind, "only layer, model or sweep records")->check(one_of({"layer", "model", "sweep"}));
  app.add_option("--status", o.status, "only success or failure");
  app.add_option("--group", o.group, "only one invocation's records (a layer run's or a sweep's group id)");
}

// The subcommand that was parsed; `results` alone lists, as `results list` does.
ResultsAction action_of(const ResultsApps& apps) {
  if (apps.show->parsed()) return ResultsAction::show;
  if (apps.export_->parsed()) return ResultsAction::export_runs;
  if (apps.compare->parsed()) return ResultsAction::compare;
  if (apps.remove->parsed()) return ResultsAction::remove;
  return ResultsAction::list;
}

}  // namespace

Command add_results_command(CLI::App& app) {
  auto o = std::make_shared<ResultsJob>();
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
  apps.export_->add_option(kOutputFormatFlags, o->format, output_format_help())->capture_default_str();
  apps.export_->footer(output_formats_footer());
  apps.export_->add_option("--output-file", o->output_file,
                           "write here instead of stdout (the base path when a format writes several files)");
  apps.export_->add_flag("--tracker-format,--seed-format", o->tracker_format,
                         "SGLang's tracker files success_results.json and failure_results.json into --output-dir "
                         "(= --output-format tracker)");
  apps.export_->add_option("--output-dir", o->output_dir, "directory of the tracker files")->capture_default_str();

  apps.compare = sub->add_subcommand("compare", "run B against run A, metric by metric");
  add_results_db_option(*apps.compare, o->results_db);
  apps.compare->add_option("ids", o->ids, "run ids A B")->expected(2);
  apps.compare->add_option("--run-name", o->run_names,
                           "two tagged runs A B (layer/model/sweep --run-name), configuration by configuration, "
                           "within each run's noise band")
      ->expected(2);
  apps.compare->add_option("--threshold", o->threshold_pct, "percent change that is flagged better or REGRESSION")
      ->capture_default_str();

  apps.remove = sub->add_subcommand("delete", "delete runs by id or by filter");
  add_results_db_option(*apps.remove, o->results_db);
  add_filters(*apps.remove, *o);
  apps.remove->add_option("ids", o->ids, "run ids");

  return {sub, [o, apps] {
            o->action = action_of(apps);
            o->results_db_given = apps.results->count("--results-db") + apps.list->count("--results-db") > 0;
            return run_results_job(*o);
          }};
}

}  // namespace moebench::cli
