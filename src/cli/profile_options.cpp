// The profiling flags (profile_options.hpp).
#include "cli/profile_options.hpp"

namespace moebench::cli {

void add_profile_flags(CLI::App& app, ProfileOptions& o, const std::string& what) {
  CLI::Option* flag = app.add_flag("--profile", o.profile, what);
  app.add_option("--profile-dir", o.dir, "where --profile writes its traces")->capture_default_str()->needs(flag);
}

}  // namespace moebench::cli
