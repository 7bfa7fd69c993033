#pragma once
// Writing a set of files so that a reader never sees a partial one: each text goes to a
// temporary file in its target's directory and is renamed over the target only when every
// file of the set has been written in full, so a failure leaves neither a partial file nor a
// partial set. Result files, reports and profiles all go through here.
#include <string>
#include <string_view>
#include <vector>

namespace moebench {

struct FileText {
  std::string path;
  std::string_view text;  // not owned: the caller keeps it alive for the call
};

// Throws InputError "FLAG: cannot write PATH: REASON" (FLAG names the option that chose the
// paths) with no temporary file left and, unless renaming itself fails half-way, no target
// changed.
void write_files_atomically(const std::vector<FileText>& files, const std::string& flag);

// Whether `dir` exists (created with its parents if not) and the process may create files in
// it; throws InputError "FLAG DIR: REASON" otherwise. Run before work whose output goes there.
void ensure_writable_directory(const std::string& dir, const std::string& flag);

}  // namespace moebench
