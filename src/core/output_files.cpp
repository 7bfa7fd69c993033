// Atomic, all-or-nothing writing of result files and the checks of their paths (output_files.hpp).
#include "core/output_files.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace fs = std::filesystem;

namespace {

InputError cannot_write(const std::string& path, int error, const std::string& flag) {
  return InputError(fmt::format("{}: cannot write {}: {}", flag, path, std::generic_category().message(error)));
}

bool is_directory(const std::string& path) {
  std::error_code ec;  // unreadable is not a directory here: writing it reports the real error
  return fs::is_directory(path, ec);
}

bool ends_with_extension(const std::string& path, const std::string& ext) {
  if (ext.empty() || path.size() <= ext.size()) return false;
  return std::equal(ext.rbegin(), ext.rend(), path.rbegin(),
                    [](char a, char b) { return std::tolower((unsigned char)a) == std::tolower((unsigned char)b); });
}

// The mode the file would get from a plain open(): the existing file's, or 0666 less umask
// (read by setting it back at once: umask has no read-only call).
mode_t file_mode(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return st.st_mode & 07777;
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

// Writes `text` in full to a new temporary file beside `path` and returns its name. The name
// is short so that any target name the file system accepts has a temporary name too.
std::string write_temporary(const std::string& path, const std::string& text, const std::string& flag) {
  std::string name = (fs::path(path).parent_path() / ".moebench-tmp-XXXXXX").string();
  const int fd = ::mkstemp(name.data());
  if (fd < 0) throw cannot_write(path, errno, flag);
  int error = 0;
  if (::fchmod(fd, file_mode(path)) != 0) error = errno;
  for (size_t done = 0; error == 0 && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno != EINTR) error = errno;
    if (n == 0) error = EIO;  // no progress on a regular file: do not spin
    if (n > 0) done += size_t(n);
  }
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) {
    ::unlink(name.c_str());
    throw cannot_write(path, error, flag);
  }
  return name;
}

}  // namespace

std::string output_path(const std::string& base, const std::string& extension, const std::string& also_accepted,
                        bool only_file) {
  if (base.empty()) throw InputError("--output-file: empty path: give a base path such as ./benchmark_results");
  if (base.back() == '/' || is_directory(base))
    throw InputError(fmt::format("--output-file: {} names a directory: give a base path inside it, such as {}", base,
                                 (fs::path(base) / "benchmark_results").lexically_normal().string()));
  const bool has_extension = ends_with_extension(base, extension) || ends_with_extension(base, also_accepted);
  return only_file && has_extension ? base : base + extension;
}

void write_files(const std::vector<std::pair<std::string, std::string>>& files, const std::string& flag) {
  // A target that is a directory would only fail at the rename, after others were replaced.
  for (const auto& [path, text] : files)
    if (is_directory(path)) throw cannot_write(path, EISDIR, flag);

  std::vector<std::string> temporaries;
  auto remove_temporaries = [&](size_t from) {
    for (size_t i = from; i < temporaries.size(); ++i) ::unlink(temporaries[i].c_str());
  };
  try {
    for (const auto& [path, text] : files) temporaries.push_back(write_temporary(path, text, flag));
  } catch (...) {
    remove_temporaries(0);
    throw;
  }
  for (size_t i = 0; i < files.size(); ++i) {
    if (::rename(temporaries[i].c_str(), files[i].first.c_str()) != 0) {
      const int error = errno;
      remove_temporaries(i);
      throw cannot_write(files[i].first, error, flag);
    }
  }
}

void ensure_writable_directory(const std::string& dir, const std::string& flag) {
  if (dir.empty()) throw InputError(fmt::format("{}: empty path: give a directory", flag));
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw InputError(fmt::format("{} {}: not a directory: give a directory path", flag, dir));
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) throw InputError(fmt::format("{} {}: cannot create it: {}", flag, dir, ec.message()));
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw InputError(fmt::format("{} {}: not writable: choose a directory you can write to", flag, dir));
}

}  // namespace moebench
