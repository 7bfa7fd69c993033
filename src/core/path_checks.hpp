#pragma once
// The one rule for every path moebench will write (result files, the results store, the
// profile and routing export directories), checked before any work starts so that a run is
// never lost to a path that could not take its output: the name fits the file system (each
// component within NAME_MAX, the whole within PATH_MAX), it is not under /proc or /sys, a
// file's target is not a directory and its directory exists and is writable, a directory is
// one (or can be created under a writable one). Each check throws InputError "FLAG PATH: REASON"
// and creates nothing.
#include <string>

namespace moebench {

// A file that will be created or replaced at `path`. With `file_itself_written` (a file
// updated in place, such as the SQLite store) an existing file must be writable too; result
// files are renamed over their target, so only their directory must be.
void check_writable_file(const std::string& path, const std::string& flag, bool file_itself_written = false);

// A directory that files will be written into: an existing writable directory, or a path whose
// nearest existing ancestor is a writable directory (it is created when the work starts).
void check_writable_directory(const std::string& dir, const std::string& flag);

}  // namespace moebench
