// One result record as JSON (record_json.hpp).
#include "bench/writers/record_json.hpp"

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

json environment_json(const RunEnvironment& e) {
  return {{"host", e.host},
          {"backend", e.backend},
          {"device", e.device},
          {"driver_version", e.driver_version},
          {"cuda_version", e.cuda_version},
          {"moebench_version", e.moebench_version},
          {"git_revision", e.git_revision}};
}

}  // namespace

json record_json(const RunRecord& r) {
  return {{"id", r.id},
          {"kind", r.kind},
          {"model", r.model},
          {"config", r.config},
          {"status", run_status_name(r.status)},
          {"error_type", r.error_type},
          {"error_message", r.error_message},
          {"params", r.params},
          {"metrics", r.metrics},
          {"details", r.details},
          {"environment", environment_json(r.environment)},
          {"command_line", r.command_line},
          {"group_id", r.group_id},
          {"started_at", r.started_at},
          {"finished_at", r.finished_at}};
}

}  // namespace moebench
