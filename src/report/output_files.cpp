#include "report/output_files.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "core/errors.hpp"
#include "report/atomic_files.hpp"

namespace moebench {

namespace fs = std::filesystem;

namespace {

struct Target {
  const char* extension;
  const char* alternative_extension;  // also accepted on a single-format base path
  const std::string* text;
};

bool is_directory(const std::string& path) {
  std::error_code ec;  // unreadable is not a directory here: writing it reports the real error
  return fs::is_directory(path, ec);
}

bool ends_with_extension(const std::string& path, const char* extension) {
  const std::string ext = extension;
  if (ext.empty() || path.size() <= ext.size()) return false;
  return std::equal(ext.rbegin(), ext.rend(), path.rbegin(),
                    [](char a, char b) { return std::tolower((unsigned char)a) == std::tolower((unsigned char)b); });
}

std::vector<Target> targets(OutputFormat format, const std::string* csv, const std::string* markdown,
                            const std::string* json) {
  const Target c{".csv", "", csv}, m{".md", ".markdown", markdown}, j{".json", "", json};
  switch (format) {
    case OutputFormat::csv: return {c};
    case OutputFormat::markdown: return {m};
    case OutputFormat::json: return {j};
    case OutputFormat::both: return {c, m};
    case OutputFormat::all: return {c, m, j};
  }
  return {};
}

std::vector<std::string> paths_of(const std::vector<Target>& ts, const std::string& base) {
  if (base.empty()) throw InputError("--output-file: empty path: give a base path such as ./benchmark_results");
  if (base.back() == '/' || is_directory(base))
    throw InputError(fmt::format("--output-file: {} names a directory: give a base path inside it, such as {}", base,
                                 (fs::path(base) / "benchmark_results").lexically_normal().string()));
  std::vector<std::string> paths;
  for (const Target& t : ts) {
    const bool has_extension =
        ends_with_extension(base, t.extension) || ends_with_extension(base, t.alternative_extension);
    paths.push_back(ts.size() == 1 && has_extension ? base : base + t.extension);
  }
  return paths;
}

}  // namespace

OutputFormat parse_output_format(const std::string& text) {
  if (text == "csv") return OutputFormat::csv;
  if (text == "markdown") return OutputFormat::markdown;
  if (text == "json") return OutputFormat::json;
  if (text == "all") return OutputFormat::all;
  if (text == "both") return OutputFormat::both;
  throw InputError(fmt::format("--output-format: unknown format '{}': use csv, markdown, json or all", text));
}

std::vector<std::string> output_paths(OutputFormat format, const std::string& base_path) {
  return paths_of(targets(format, nullptr, nullptr, nullptr), base_path);
}

std::vector<std::string> write_outputs(OutputFormat format, const std::string& base_path, const std::string& csv,
                                       const std::string& markdown, const std::string& json) {
  const std::vector<Target> ts = targets(format, &csv, &markdown, &json);
  const std::vector<std::string> paths = paths_of(ts, base_path);

  std::vector<FileText> files;
  for (size_t i = 0; i < ts.size(); ++i) files.push_back({paths[i], *ts[i].text});
  write_files_atomically(files, "--output-file");
  return paths;
}

}  // namespace moebench
