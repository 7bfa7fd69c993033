// Records of one invocation: their shared context, their end and failure, the group id.
#include "results/record_context.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "results/timestamps.hpp"

namespace moebench {

RunRecord new_record(const RecordContext& context, const std::string& kind, const std::string& model,
                     const std::string& config) {
  RunRecord r;
  r.kind = kind;
  r.model = model;
  r.config = config;
  r.environment = context.environment;
  r.command_line = context.command_line;
  r.group_id = context.group_id;
  r.started_at = context.started_at;
  return r;
}

void set_finished(std::vector<RunRecord>& records, const std::string& finished_at) {
  for (RunRecord& r : records) r.finished_at = finished_at;
}

void set_failure(RunRecord& record, FailureKind kind, const std::string& message) {
  record.status = RunStatus::failure;
  record.error_type = failure_kind_name(kind);
  record.error_message = message;
}

std::string invocation_group_id(const std::string& kind, const std::string& run_name) {
  const char* inherited = std::getenv(kGroupIdEnv);
  if (inherited && *inherited) return inherited;
  if (!run_name.empty()) return run_name;
  std::string stamp = utc_now_iso();
  stamp.erase(std::remove_if(stamp.begin(), stamp.end(), [](char c) { return c == '-' || c == ':'; }), stamp.end());
  return fmt::format("{}-{}-{}", kind, stamp, getpid());
}

}  // namespace moebench
