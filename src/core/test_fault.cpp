#include "core/test_fault.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace {
constexpr const char* kImplFaultPrefix = "oom-in:";
}  // namespace

void apply_impl_test_fault(const std::string& impl) {
  const char* value = std::getenv("MOEBENCH_TEST_FAULT");
  if (value && std::string(value) == kImplFaultPrefix + impl)
    throw RuntimeFailure(FailureKind::OOM,
                         fmt::format("out of memory preparing {} (simulated by MOEBENCH_TEST_FAULT={})", impl, value));
}

void apply_test_fault() {
  const char* value = std::getenv("MOEBENCH_TEST_FAULT");
  const std::string fault = value ? value : "";
  if (fault.empty()) return;
  if (fault == "hang")
    for (;;) pause();
  if (fault == "crash") {
    prctl(PR_SET_DUMPABLE, 0);  // a deliberate crash leaves no core file behind
    raise(SIGSEGV);
  }
  if (fault == "oom")
    throw RuntimeFailure(FailureKind::OOM, "out of memory (simulated by MOEBENCH_TEST_FAULT=oom)");
  if (fault.rfind(kImplFaultPrefix, 0) == 0 && fault.size() > std::string(kImplFaultPrefix).size()) return;
  throw InputError(fmt::format("MOEBENCH_TEST_FAULT={}: unknown fault: use hang, crash, oom or oom-in:IMPL, or unset it", fault));
}

}  // namespace moebench
