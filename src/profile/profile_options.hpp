#pragma once
// What --profile and --profile-dir ask of a `layer` or `model` run: the check of the directory
// before anything runs, and the profiler with the run's description in every trace. The flags
// themselves are registered in cli/profile_options.
#include <memory>
#include <string>

#include "backend/backend.hpp"
#include "profile/profiler.hpp"

namespace moebench {

struct ProfileOptions {
  bool profile = false;
  std::string dir = "./profiles";

  // Bad input (exit 2) when profiling names a directory that cannot be written; creates nothing.
  void check() const;
  // The profiler of a `command` run ("layer", "model"), or none without profiling; creates the
  // directory. Says on
  // stderr where the traces go and what times the device side.
  std::unique_ptr<Profiler> start(Backend& backend, const std::string& command, const std::string& dtype,
                                  const std::string& command_line) const;
};

}  // namespace moebench
