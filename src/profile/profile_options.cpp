// ProfileOptions: the profile directory's check and the run's profiler (profile_options.hpp).
#include "profile/profile_options.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/build_info.hpp"
#include "core/output_files.hpp"
#include "core/path_checks.hpp"

namespace moebench {

void ProfileOptions::check() const {
  if (profile) check_writable_directory(dir, "--profile-dir");
}

std::unique_ptr<Profiler> ProfileOptions::start(Backend& backend, const std::string& command, const std::string& dtype,
                                                const std::string& command_line) const {
  if (!profile) return nullptr;
  ensure_writable_directory(dir, "--profile-dir");  // checked before the run, created as it starts
  auto profiler = std::make_unique<Profiler>(backend, dir,
                                             nlohmann::ordered_json{{"tool", "moebench " + command},
                                                                    {"moebench_version", build_version()},
                                                                    {"git_revision", build_git_revision()},
                                                                    {"backend", backend_kind_name(backend.kind())},
                                                                    {"device", backend.device_info().name},
                                                                    {"dtype", dtype},
                                                                    {"command_line", command_line}});
  std::fprintf(stderr, "moebench %s: profiling into %s: %s\n", command.c_str(), dir.c_str(),
               profiler->description().c_str());
  return profiler;
}

}  // namespace moebench
