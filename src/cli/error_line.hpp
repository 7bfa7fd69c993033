#pragma once
// The one line a user reads for an error. Messages raised below the CLI name a flag by its
// canonical name (--impl, --tp-size); the user may have typed an alias (--moe-impl, -tp), so
// the line names each flag as it was typed. Values quoted back may hold newlines, other control
// characters or bytes that are not UTF-8: they are escaped (\n, \xNN), so the line is one line
// of printable text whatever the input was.
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace moebench::cli {

// Canonical name -> the spelling typed, for every flag of the parsed subcommands that was typed
// otherwise. `typed` is argv as given, `args` the same arguments after cli/vocabulary's short
// aliases (one for one).
std::map<std::string, std::string> typed_flag_names(const CLI::App& app, const std::vector<std::string>& typed,
                                                    const std::vector<std::string>& args);

// `message` with each canonical flag name replaced by its typed spelling, and escaped.
std::string error_line(const std::string& message, const std::map<std::string, std::string>& typed_names);

}  // namespace moebench::cli
