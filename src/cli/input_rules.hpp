#pragma once
// The rules every flag's value follows, applied to all options of all subcommands at once, so
// that a new flag gets them without a line of its own: a value given explicitly is never empty
// (a string, a number, an element of a comma-separated list), a whole-number option of an
// unsigned type refuses a negative value instead of wrapping it, and a decimal number is
// finite. Enumerated values name their choices with one_of. Each broken rule is bad input:
// one line naming the flag (exit 2).
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace moebench::cli {

// Adds the value checks to every option of `app` and of its subcommands; called once every
// subcommand has registered its flags.
void add_input_rules(CLI::App& app);

// The check of a flag whose value is one of `names`: "unknown value 'X': use A, B or C".
CLI::Validator one_of(const std::vector<std::string>& names);

// The rule CLI11 cannot see: it drops the empty elements of a comma-separated list ("8,,16"),
// so the arguments as given (`args`, after cli/vocabulary's short aliases) are read for them.
// Throws InputError naming the flag. Called after a successful parse of `app`.
void check_list_elements(const CLI::App& app, const std::vector<std::string>& args);

}  // namespace moebench::cli
