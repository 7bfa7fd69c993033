// The registry of output formats: one line per format (name, files, description, writer).
#include "bench/writers.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "core/errors.hpp"
#include "core/output_files.hpp"
#include "core/path_checks.hpp"

namespace moebench {

namespace fs = std::filesystem;

std::shared_ptr<const ResultWriter> make_csv_writer();
std::shared_ptr<const ResultWriter> make_markdown_writer();
std::shared_ptr<const ResultWriter> make_json_writer();
std::shared_ptr<const ResultWriter> make_tracker_writer();
std::shared_ptr<const ResultWriter> make_jsonl_writer();

const std::vector<WriterEntry>& writer_registry() {
  static const std::vector<WriterEntry> formats = {
      {"csv", {".csv"}, "", "one row per result (layer: sgl-jax's MoE benchmark columns first; model: the batch sweep)",
       make_csv_writer()},
      {"markdown", {".md"}, ".markdown",
       "tables for people (layer: a section per scenario and token count; model: the full report)",
       make_markdown_writer()},
      {"json", {".json"}, "", "every field of every result record, with schema_version", make_json_writer()},
      {"tracker", {"success_results.json", "failure_results.json"}, "",
       "SGLang's tracker files: the latest success and failure of each model::config", make_tracker_writer()},
      {"jsonl", {".jsonl"}, "",
       "one line per result, every field (as json) with schema_version; appended to the file, never replaced",
       make_jsonl_writer(), /*appends=*/true},
  };
  return formats;
}

namespace {

bool is_extension(const std::string& file) { return !file.empty() && file.front() == '.'; }

const WriterEntry& format_named(const std::string& name) {
  for (const WriterEntry& f : writer_registry())
    if (f.name == name) return f;
  throw std::logic_error("output format not registered: " + name);
}

// "csv, markdown, ...": every registered name, in registry order.
std::string registered_names() {
  std::string s;
  for (const WriterEntry& f : writer_registry()) s += (s.empty() ? "" : ", ") + f.name;
  return s;
}

// The current text of an appending format's file ("" when there is none yet).
std::string read_existing(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

bool WriterEntry::in_all() const { return !appends && std::all_of(files.begin(), files.end(), is_extension); }

std::vector<const WriterEntry*> parse_writers(const std::string& text) {
  std::vector<const WriterEntry*> chosen;
  if (text == "all") {
    for (const WriterEntry& f : writer_registry())
      if (f.in_all()) chosen.push_back(&f);
  } else if (text == "both") {
    chosen = {&format_named("csv"), &format_named("markdown")};
  } else {
    for (const WriterEntry& f : writer_registry())
      if (f.name == text) chosen.push_back(&f);
  }
  if (chosen.empty())
    throw InputError(
        fmt::format("--output-format: unknown format '{}': use {}, all or both", text, registered_names()));
  return chosen;
}

std::string output_format_help() {
  std::string in_all;
  for (const WriterEntry& f : writer_registry())
    if (f.in_all()) in_all += (in_all.empty() ? "" : " + ") + f.name;
  return fmt::format("{}, all ({}) or both (csv + markdown)", registered_names(), in_all);
}

std::string output_formats_footer() {
  std::string s = "Output formats (--output-format):\n";
  for (const WriterEntry& f : writer_registry()) {
    std::string files;
    for (const std::string& file : f.files)
      files += (files.empty() ? "" : ", ") + (is_extension(file) ? "BASE" + file : file);
    s += fmt::format("  {:<9} {}: {}\n", f.name, files, f.description);
  }
  return s;
}

std::vector<std::string> writer_paths(const std::vector<const WriterEntry*>& formats, const std::string& base_path) {
  size_t count = 0;
  for (const WriterEntry* f : formats) count += f->files.size();
  std::vector<std::string> paths;
  for (const WriterEntry* f : formats)
    for (const std::string& file : f->files) {
      if (is_extension(file)) {
        paths.push_back(output_path(base_path, file, f->also_accepted, count == 1));
        continue;
      }
      if (base_path.empty())
        throw InputError("--output-file: empty path: give a base path such as ./benchmark_results");
      // A fixed name goes into the base path when that is a directory, else beside it.
      const fs::path dir = base_path.back() == '/' || fs::is_directory(base_path) ? fs::path(base_path)
                                                                                  : fs::path(base_path).parent_path();
      paths.push_back((dir / file).string());
    }
  return paths;
}

void check_writer_paths(const std::vector<const WriterEntry*>& formats, const std::string& base_path,
                        const std::string& flag) {
  for (const std::string& path : writer_paths(formats, base_path)) check_writable_file(path, flag);
}

std::vector<std::pair<std::string, std::string>> writer_files(const std::vector<const WriterEntry*>& formats,
                                                              const std::string& base_path,
                                                              const std::vector<RunRecord>& records,
                                                              const WriterContext& context) {
  const std::vector<std::string> paths = writer_paths(formats, base_path);
  std::vector<std::pair<std::string, std::string>> files;
  for (const WriterEntry* f : formats) {
    std::vector<std::string> texts = f->writer->write(records, context);
    if (texts.size() != f->files.size())
      throw std::logic_error(fmt::format("output format {} wrote {} texts for {} files", f->name, texts.size(),
                                         f->files.size()));
    for (std::string& text : texts) {
      const std::string& path = paths[files.size()];
      if (f->appends) {
        std::string existing = read_existing(path);
        if (!existing.empty() && existing.back() != '\n') existing += '\n';
        text = existing + text;
      } else if (fs::exists(path)) {
        std::fprintf(stderr, "moebench: replacing %s\n", path.c_str());
      }
      files.emplace_back(path, std::move(text));
    }
  }
  return files;
}

}  // namespace moebench
