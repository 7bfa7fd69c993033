// The MOEBENCH_TEST_FAULT hook: its one reading of the variable, checked up front and applied
// as a run starts (test_fault.hpp).
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

enum class Fault { none, hang, crash, oom, oom_in_impl };

Fault test_fault() {
  const char* value = std::getenv("MOEBENCH_TEST_FAULT");
  const std::string fault = value ? value : "";
  if (fault.empty()) return Fault::none;
  if (fault == "hang") return Fault::hang;
  if (fault == "crash") return Fault::crash;
  if (fault == "oom") return Fault::oom;
  if (fault.rfind(kImplFaultPrefix, 0) == 0 && fault.size() > std::string(kImplFaultPrefix).size())
    return Fault::oom_in_impl;
  throw InputError(
      fmt::format("MOEBENCH_TEST_FAULT={}: unknown fault: use hang, crash, oom or oom-in:IMPL, or unset it", fault));
}

}  // namespace

void check_test_fault() { test_fault(); }

void apply_test_fault() {
  switch (test_fault()) {
    case Fault::none: return;
    case Fault::hang:
      for (;;) pause();
    case Fault::crash:
      prctl(PR_SET_DUMPABLE, 0);  // a deliberate crash leaves no core file behind
      raise(SIGSEGV);
      return;
    case Fault::oom: throw RuntimeFailure(FailureKind::OOM, "out of memory (simulated by MOEBENCH_TEST_FAULT=oom)");
    case Fault::oom_in_impl: return;  // applied as that implementation is prepared
  }
}

void apply_impl_test_fault(const std::string& impl) {
  const char* value = std::getenv("MOEBENCH_TEST_FAULT");
  if (value && std::string(value) == kImplFaultPrefix + impl)
    throw RuntimeFailure(FailureKind::OOM,
                         fmt::format("out of memory preparing {} (simulated by MOEBENCH_TEST_FAULT={})", impl, value));
}

}  // namespace moebench
