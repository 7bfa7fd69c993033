#pragma once
// The result files of --output-format / --output-file (seed 003's flags), whatever format made
// them (bench/writers.hpp). Files are written atomically and all together: each goes to a
// temporary file in its target's directory and is renamed over the target only when every one
// of them has been written in full, so a failure leaves neither a partial file nor a partial set.
#include <string>
#include <utility>
#include <vector>

namespace moebench {

// Where one file of a format goes: `base_path` plus `extension`, or `base_path` itself when it
// is the only file written and already ends in `extension` or `also_accepted` (results.csv,
// results.md or results.markdown), so that a single file is named as the user named it.
// Throws InputError naming --output-file for an empty path or one that names a directory.
std::string output_path(const std::string& base_path, const std::string& extension, const std::string& also_accepted,
                        bool only_file);

// Writes every file {path, text} or none: on failure throws InputError "FLAG: cannot write
// PATH: REASON" naming `flag`, the option that chose the paths, with no temporary file left
// and, unless renaming itself fails half-way, no target changed.
void write_files(const std::vector<std::pair<std::string, std::string>>& files, const std::string& flag);

// Makes sure `dir` exists (created with its parents if not) and the process may create files
// in it; throws InputError "FLAG DIR: REASON" otherwise. Run before work whose output goes there.
void ensure_writable_directory(const std::string& dir, const std::string& flag);

}  // namespace moebench
