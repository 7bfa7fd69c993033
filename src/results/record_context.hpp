#pragma once
// What every record of one invocation shares (environment, command line, group, start time),
// and the group id that ties a sweep's children to the sweep.
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "results/run_record.hpp"

namespace moebench {

struct RecordContext {
  RunEnvironment environment;
  std::string command_line;
  std::string group_id;
  std::string started_at;  // ISO-8601 UTC
};

// A record of `kind` for model::config carrying the context; status success until set.
RunRecord new_record(const RecordContext& context, const std::string& kind, const std::string& model,
                     const std::string& config);

// Stamps every record of a finished run with its end, before it is written to files and stored.
void set_finished(std::vector<RunRecord>& records, const std::string& finished_at);

// Marks `record` failed with `kind` and its one-line `message`.
void set_failure(RunRecord& record, FailureKind kind, const std::string& message);

// The environment variable through which `sweep` hands its group id to its children.
constexpr const char* kGroupIdEnv = "MOEBENCH_GROUP_ID";

// This invocation's group: $MOEBENCH_GROUP_ID when a sweep started it, else `run_name` when
// given (--run-name: runs tagged alike share a group, which `results list --group` filters),
// else a new "<kind>-20251127T234512Z-<pid>".
std::string invocation_group_id(const std::string& kind, const std::string& run_name = "");

}  // namespace moebench
