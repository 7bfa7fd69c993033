#pragma once
// The environment stored with every run: host, device, driver and CUDA versions, and this
// build's version and git revision.
#include "backend/backend.hpp"
#include "results/run_record.hpp"

namespace moebench {

RunEnvironment current_environment(const DeviceInfo& device, BackendKind backend);

}  // namespace moebench
