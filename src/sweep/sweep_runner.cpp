#include "sweep/sweep_runner.hpp"

#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "sweep/child_process.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

// The failure recorded for a child that left no record of its own.
RunRecord failure_for(const SweepPoint& p, const RecordContext& context, const ChildOutcome& outcome,
                      const std::string& executable) {
  RunRecord r = new_record(context, p.command, p.model, p.config);
  r.command_line = reproducible_command(p);
  r.params = p.params;
  const bool exited_ok = !outcome.timed_out && outcome.signal == 0 && outcome.exit_code == 0;
  if (exited_ok) {
    set_failure(r, FailureKind::Crash, "exited 0 without recording a result");
  } else {
    FailureClass c = classify_failure(outcome);
    set_failure(r, c.kind, c.message);
  }
  r.details = {{"executable", executable},
               {"exit_code", outcome.exit_code},
               {"signal", outcome.signal},
               {"timed_out", outcome.timed_out},
               {"timeout_s", outcome.timeout_s}};
  for (const auto& [name, value] : p.env) r.details["env"][name] = value;
  return r;
}

}  // namespace

SweepOutcome run_sweep(const std::vector<SweepPoint>& points, const std::string& executable, ResultsStore& store,
                       const RecordContext& context, const std::string& source, SweepProgress& progress) {
  const auto start = std::chrono::steady_clock::now();
  RunFilter newest_of_mine;
  newest_of_mine.group_id = context.group_id;
  newest_of_mine.limit = 1;
  const std::vector<RunRecord> before = store.list(newest_of_mine);
  // A child's records are those of the group with an id above every record seen before it ran.
  RunFilter newer;
  newer.group_id = context.group_id;
  newer.min_id = before.empty() ? 0 : before.back().id;
  SweepOutcome outcome;
  for (size_t i = 0; i < points.size(); ++i) {
    const SweepPoint& p = points[i];
    const std::string key = p.model + "::" + p.config;
    progress.begin(int(i), key);
    ChildSpec spec{executable, p.args, p.env, p.timeout_s};
    spec.env.emplace_back(kGroupIdEnv, context.group_id);
    const ChildOutcome child = run_child(spec);

    std::vector<RunRecord> fresh = store.list(newer);
    if (fresh.empty()) {
      RunRecord failure = failure_for(p, context, child, executable);
      failure.id = store.record(failure);
      fresh.push_back(failure);
    }
    newer.min_id = fresh.back().id;  // oldest first: the last is the newest
    bool ok = true;
    std::string note = "ok";
    for (const RunRecord& r : fresh)
      if (r.status == RunStatus::failure) {
        ok = false;
        note = r.error_type + ": " + r.error_message;
      }
    (ok ? outcome.succeeded : outcome.failed) += 1;
    progress.end(int(i), key, ok, note);
    outcome.records.insert(outcome.records.end(), fresh.begin(), fresh.end());
  }
  progress.finish();

  RunRecord summary = new_record(context, "sweep", "sweep", std::filesystem::path(source).filename().string());
  summary.params = {{"source", source}, {"configs", points.size()}, {"succeeded", outcome.succeeded},
                    {"failed", outcome.failed}};
  summary.metrics = {{"wall_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
  // A sweep succeeds when its configs do: a failed config fails the summary, with the first
  // failure's type, as it fails the command's exit code.
  for (const RunRecord& r : outcome.records)
    if (r.status == RunStatus::failure && summary.status != RunStatus::failure) {
      summary.status = RunStatus::failure;
      summary.error_type = r.error_type;
      summary.error_message = fmt::format("{} of {} configs failed; first: {}: {}", outcome.failed, points.size(),
                                          r.key(), r.error_message);
    }
  store.record(summary);
  return outcome;
}

}  // namespace moebench
