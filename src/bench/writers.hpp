#pragma once
// The registry of output formats (--output-format of layer, model and results export): each
// format's name, its files and a one-line description, and the writer that makes their texts.
// A new format is one writer file under bench/writers/ and one line in bench/writers.cpp.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/result_writer.hpp"

namespace moebench {

struct WriterEntry {
  std::string name;
  // One entry per text the writer returns. ".csv": the base path plus that extension (the base
  // path itself when it is the only file written and already ends so, or in `also_accepted`);
  // a name without a leading dot ("success_results.json"): that file in the base path when it
  // is a directory, else beside it, for formats whose file names are fixed.
  std::vector<std::string> files;
  std::string also_accepted;
  std::string description;
  std::shared_ptr<const ResultWriter> writer;
  // Appends its text to an existing file (jsonl: one line per result, many runs in one file)
  // instead of replacing it. Every other format replaces its file and says so on stderr
  // ("moebench: replacing PATH"), so that no run's file disappears unnoticed.
  bool appends = false;

  // Whether `all` includes it: formats whose files go beside the base path and are replaced.
  // Fixed names are left out, so that `all` never replaces files of those names that a user
  // keeps; appending formats too, so that `all` never grows a file run after run.
  bool in_all() const;
};

// Every format, in registry order.
const std::vector<WriterEntry>& writer_registry();

// --output-format: a registered name, `all` (every format in_all) or `both` (csv and
// markdown). Throws InputError "--output-format: unknown format 'X': use NAMES" otherwise.
std::vector<const WriterEntry*> parse_writers(const std::string& text);

// The help text of --output-format: every name, with all and both.
std::string output_format_help();
// The help footer of the commands with --output-format: each format's name, files and
// description, one per line.
std::string output_formats_footer();

// Where the files of `formats` go for `base_path`, in the order of `formats` and of their
// files. Throws InputError naming --output-file for an empty or a directory base path.
std::vector<std::string> writer_paths(const std::vector<const WriterEntry*>& formats, const std::string& base_path);

// Checks every file `formats` will write for `base_path` as core/path_checks.hpp does for the
// option `flag` (a writable directory, a target that is not a directory, a name the file system
// takes), before a run, so that no result is lost at the end to a path that cannot be written.
void check_writer_paths(const std::vector<const WriterEntry*>& formats, const std::string& base_path,
                        const std::string& flag);

// Every file {path, text} that `formats` write for `records`; core/output_files.hpp's
// write_files writes them all or none. An appending format's text follows the existing file's
// (a missing final newline added), so the whole file is still replaced atomically; an existing
// file of any other format is said on stderr: "moebench: replacing PATH".
std::vector<std::pair<std::string, std::string>> writer_files(const std::vector<const WriterEntry*>& formats,
                                                              const std::string& base_path,
                                                              const std::vector<RunRecord>& records,
                                                              const WriterContext& context);

}  // namespace moebench
