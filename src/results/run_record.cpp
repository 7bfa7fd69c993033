#include "results/run_record.hpp"

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

const char* run_status_name(RunStatus status) { return status == RunStatus::success ? "success" : "failure"; }

RunStatus parse_run_status(const std::string& text) {
  if (text == "success") return RunStatus::success;
  if (text == "failure") return RunStatus::failure;
  throw InputError(fmt::format("--status: unknown status '{}': use success or failure", text));
}

}  // namespace moebench
