#include "results/environment.hpp"

#include <unistd.h>

#include "core/build_info.hpp"

namespace moebench {

RunEnvironment current_environment(const DeviceInfo& device, BackendKind backend) {
  RunEnvironment e;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) e.host = host;
  e.backend = backend_kind_name(backend);
  e.device = device.name;
  e.driver_version = device.driver_version;
  e.cuda_version = device.runtime_version;
  e.moebench_version = build_version();
  e.git_revision = build_git_revision();
  return e;
}

}  // namespace moebench
