#pragma once
// The result files of --output-format / --output-file (seed 003's flags). Files are written
// atomically and all together: each goes to a temporary file in its target's directory and is
// renamed over the target only when every one of them has been written in full, so a failure
// leaves neither a partial file nor a partial set.
#include <string>
#include <utility>
#include <vector>

namespace moebench {

enum class OutputFormat {
  csv,
  markdown,
  json,
  all,   // csv + markdown + json
  both,  // seed 003's name for csv + markdown
};

// csv, markdown, json, all or both; throws InputError naming --output-format otherwise.
OutputFormat parse_output_format(const std::string& text);

// The files `format` writes for `base_path`, in the order csv, markdown, json: the base path
// plus .csv / .md / .json, except that a single format whose extension the base path already
// has (results.csv, results.md or results.markdown, results.json) writes the base path itself.
// Throws InputError naming --output-file for an empty path or one that names a directory.
std::vector<std::string> output_paths(OutputFormat format, const std::string& base_path);

// Where one file of a format goes: `base_path` plus `extension`, or `base_path` itself when it
// is the only file written and already ends in `extension` or `also_accepted` (results.csv,
// results.md or results.markdown), so that a single file is named as the user named it.
// Throws InputError naming --output-file for an empty path or one that names a directory.
std::string output_path(const std::string& base_path, const std::string& extension, const std::string& also_accepted,
                        bool only_file);

// Throws InputError naming --output-file when the directory of `base_path` does not exist or is
// not writable: checked before a run, so that its results are not lost at the end.
void check_output_directory(const std::string& base_path);

// Writes the texts `format` selects to output_paths(format, base_path) and returns those
// paths. On failure throws InputError "--output-file: cannot write PATH: REASON" with no
// temporary file left and, unless renaming itself fails half-way, no target changed.
std::vector<std::string> write_outputs(OutputFormat format, const std::string& base_path, const std::string& csv,
                                       const std::string& markdown, const std::string& json);

// The same all-or-nothing write of any files {path, text}; a failure throws InputError
// "FLAG: cannot write PATH: REASON" naming `flag`, the option that chose the paths.
void write_files(const std::vector<std::pair<std::string, std::string>>& files, const std::string& flag);

// Makes sure `dir` exists (created with its parents if not) and the process may create files
// in it; throws InputError "FLAG DIR: REASON" otherwise. Run before work whose output goes there.
void ensure_writable_directory(const std::string& dir, const std::string& flag);

}  // namespace moebench
