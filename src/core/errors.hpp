#pragma once
// Error types shared by every layer of moebench.
//
// InputError is a problem with what the user asked for (a flag, a config file, a preset
// name). The CLI prints its message on one line and exits with code 2; nothing partial is
// written. RuntimeFailure is a problem met while running (out of memory, a CUDA error) and
// carries a classification so that sweeps and the results store can keep it.
#include <stdexcept>
#include <string>

namespace moebench {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class FailureKind { OOM, Timeout, CudaError, NcclError, InvalidConfig, VerificationFailed, Crash };

const char* failure_kind_name(FailureKind kind);

class RuntimeFailure : public std::runtime_error {
 public:
  RuntimeFailure(FailureKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  FailureKind kind() const { return kind_; }

 private:
  FailureKind kind_;
};

}  // namespace moebench
