#pragma once
// --profile and --profile-dir, shared by `layer` and `model`: the flags, the check of the
// directory before anything runs, and the profiler with the run's description in every trace.
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "backend/backend.hpp"
#include "profile/profiler.hpp"

namespace moebench::cli {

struct ProfileOptions {
  bool profile = false;
  std::string dir = "./profiles";

  // `what` completes the --profile help: what gets traced.
  void add_to(CLI::App& app, const std::string& what);
  // Bad input (exit 2) when --profile names a directory that cannot be written.
  void check() const;
  // The profiler of a `command` run ("layer", "model"), or none without --profile. Says on
  // stderr where the traces go and what times the device side.
  std::unique_ptr<Profiler> start(Backend& backend, const std::string& command, const std::string& dtype,
                                  const std::string& command_line) const;
};

}  // namespace moebench::cli
