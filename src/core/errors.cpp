#include "core/errors.hpp"

namespace moebench {

const char* failure_kind_name(FailureKind kind) {
  switch (kind) {
    case FailureKind::OOM: return "OOM";
    case FailureKind::Timeout: return "Timeout";
    case FailureKind::CudaError: return "CudaError";
    case FailureKind::NcclError: return "NcclError";
    case FailureKind::InvalidConfig: return "InvalidConfig";
    case FailureKind::VerificationFailed: return "VerificationFailed";
    case FailureKind::Crash: return "Crash";
  }
  return "Crash";
}

}  // namespace moebench
