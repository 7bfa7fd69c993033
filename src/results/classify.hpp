#pragma once
// Classifies a failed run (DESIGN.md "Errors"): OOM, Timeout, CudaError, NcclError,
// InvalidConfig, VerificationFailed or Crash, with one concise message, from how a sweep child
// ended (timeout, signal, exit code) and what it wrote on stderr.
#include <string>

#include "core/errors.hpp"

namespace moebench {

struct ChildOutcome {
  bool timed_out = false;
  double timeout_s = 0;
  int exit_code = 0;   // when it exited
  int signal = 0;      // when a signal ended it (0 otherwise)
  std::string stderr_text;
};

struct FailureClass {
  FailureKind kind;
  std::string message;  // one line
};

// Only for a child that did not succeed (timed out, signalled, or exited non-zero).
FailureClass classify_failure(const ChildOutcome& outcome);

// The FailureKind called `name` (failure_kind_name's inverse); false if none is.
bool parse_failure_kind(const std::string& name, FailureKind& kind);

}  // namespace moebench
