// The checks of paths moebench will write, before any work starts (path_checks.hpp).
#include "core/path_checks.hpp"

#include <unistd.h>

#include <climits>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace fs = std::filesystem;

namespace {

InputError refused(const std::string& flag, const std::string& path, const std::string& reason) {
  return InputError(fmt::format("{} {}: {}", flag, path, reason));
}

// The name rules every path shares: not empty, short enough, and not in a kernel file system
// where writes fail or mean something else.
void check_name(const std::string& path, const std::string& flag, const char* example) {
  if (path.empty()) throw InputError(fmt::format("{}: empty path: give one such as {}", flag, example));
  if (path.size() >= PATH_MAX)
    throw refused(flag, path.substr(0, 40) + "...",
                  fmt::format("path of {} bytes, longer than the system allows ({})", path.size(), PATH_MAX - 1));
  for (const fs::path& part : fs::path(path))
    if (part.native().size() > NAME_MAX)
      throw refused(flag, path, fmt::format("a name of {} bytes in it, longer than the system allows ({})",
                                            part.native().size(), NAME_MAX));
  std::error_code ec;
  fs::path full = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) full = fs::absolute(path, ec).lexically_normal();
  auto first = ++full.begin();  // after the root
  if (first != full.end() && (*first == "proc" || *first == "sys"))
    throw refused(flag, path, fmt::format("under /{}, a kernel file system: give a path on a disk", first->string()));
}

bool writable_directory(const fs::path& dir) { return ::access(dir.c_str(), W_OK | X_OK) == 0; }

}  // namespace

void check_writable_file(const std::string& path, const std::string& flag, bool file_itself_written) {
  check_name(path, flag, "./results.csv");
  std::error_code ec;
  if (path.back() == '/' || fs::is_directory(path, ec)) throw refused(flag, path, "is a directory: give a file path");
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::is_directory(dir, ec))
    throw refused(flag, path, fmt::format("directory {} does not exist", dir.string()));
  if (!writable_directory(dir)) throw refused(flag, path, fmt::format("directory {} is not writable", dir.string()));
  if (file_itself_written && fs::exists(path, ec) && ::access(path.c_str(), W_OK) != 0)
    throw refused(flag, path, "the file is read-only: make it writable or give another path");
}

void check_writable_directory(const std::string& dir, const std::string& flag) {
  check_name(dir, flag, "./out");
  std::error_code ec;
  fs::path existing = fs::absolute(dir, ec);
  while (!fs::exists(existing, ec) && existing.has_relative_path()) existing = existing.parent_path();
  if (!fs::is_directory(existing, ec))
    throw refused(flag, dir,
                  existing == fs::absolute(dir, ec) ? "not a directory: give a directory path"
                                                    : fmt::format("{} is not a directory", existing.string()));
  if (!writable_directory(existing))
    throw refused(flag, dir, fmt::format("{} is not writable: choose a directory you can write to",
                                         existing == fs::absolute(dir, ec) ? std::string("it") : existing.string()));
}

}  // namespace moebench
