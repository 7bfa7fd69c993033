#pragma once
// --profile and --profile-dir, shared by `layer` and `model`. Registration only: they fill a
// ProfileOptions (profile/profile_options), which checks the directory and starts the profiler.
#include <string>

#include <CLI/CLI.hpp>

#include "profile/profile_options.hpp"

namespace moebench::cli {

// `what` completes the --profile help: what gets traced.
void add_profile_flags(CLI::App& app, ProfileOptions& options, const std::string& what);

}  // namespace moebench::cli
