#include "results/classify.hpp"

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include <fmt/format.h>

namespace moebench {

namespace {

constexpr size_t kMaxMessage = 300;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

std::vector<std::string> nonempty_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    // A progress bar redraws with '\r': keep what was drawn last.
    if (size_t cr = line.rfind('\r'); cr != std::string::npos) line = line.substr(cr + 1);
    if (line.find_first_not_of(" \t") != std::string::npos) lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

std::string concise(std::string line) {
  if (line.size() > kMaxMessage) line = line.substr(0, kMaxMessage - 3) + "...";
  return line;
}

// The line that says what went wrong: moebench's own "moebench: KIND: message" or "moebench:
// error: ..." line if there is one, else the last line written.
std::string telling_line(const std::vector<std::string>& lines) {
  for (auto it = lines.rbegin(); it != lines.rend(); ++it)
    if (it->rfind("moebench: ", 0) == 0) return *it;
  return lines.empty() ? std::string() : lines.back();
}

bool contains_any(const std::string& haystack, std::initializer_list<const char*> needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&](const char* n) { return haystack.find(n) != std::string::npos; });
}

// A kind named by moebench's own RuntimeFailure line, "moebench: OOM: ...".
bool kind_from_moebench_line(const std::string& line, FailureKind& kind) {
  const std::string prefix = "moebench: ";
  if (line.rfind(prefix, 0) != 0) return false;
  const size_t colon = line.find(':', prefix.size());
  return colon != std::string::npos && parse_failure_kind(line.substr(prefix.size(), colon - prefix.size()), kind);
}

// What the text says, whoever wrote it (CUDA runtime, NCCL, the allocator, our pre-flight).
bool kind_from_text(const std::string& text, FailureKind& kind) {
  const std::string t = lower(text);
  if (contains_any(t, {"out of memory", "cudaerrormemoryallocation", "cuda_error_out_of_memory", "does not fit",
                       "std::bad_alloc"})) {
    kind = FailureKind::OOM;
    return true;
  }
  // NCCL's own error names and failure lines only: with NCCL_DEBUG=INFO every run prints
  // "NCCL INFO" lines, which say nothing about why it ended.
  if (contains_any(t, {"nccl error", "nccl failure", "nccl warn", "ncclinternalerror", "ncclsystemerror",
                       "ncclunhandledcudaerror", "ncclinvalidusage", "ncclinvalidargument", "ncclremoteerror"})) {
    kind = FailureKind::NcclError;
    return true;
  }
  if (contains_any(t, {"cuda error", "cudaerror", "cuda_error", "cublas_status", "illegal memory access"})) {
    kind = FailureKind::CudaError;
    return true;
  }
  return false;
}

}  // namespace

bool parse_failure_kind(const std::string& name, FailureKind& kind) {
  for (FailureKind k : {FailureKind::OOM, FailureKind::Timeout, FailureKind::CudaError, FailureKind::NcclError,
                        FailureKind::InvalidConfig, FailureKind::VerificationFailed, FailureKind::Crash})
    if (name == failure_kind_name(k)) {
      kind = k;
      return true;
    }
  return false;
}

FailureClass classify_failure(const ChildOutcome& o) {
  const std::vector<std::string> lines = nonempty_lines(o.stderr_text);
  const std::string line = telling_line(lines);
  if (o.timed_out)
    return {FailureKind::Timeout,
            concise(fmt::format("no result after {:g} s: killed{}", o.timeout_s, line.empty() ? "" : "; last: " + line))};
  FailureKind kind = FailureKind::Crash;
  if (o.signal != 0) {
    // An abort after a CUDA or NCCL error is that error; any other signal is a crash.
    kind_from_text(o.stderr_text, kind);
    const char* name = sigdescr_np(o.signal);
    return {kind, concise(fmt::format("killed by signal {} ({}){}", o.signal, name ? name : "unknown",
                                                    line.empty() ? "" : "; last: " + line))};
  }
  if (kind_from_moebench_line(line, kind) || kind_from_text(line, kind) || kind_from_text(o.stderr_text, kind))
    return {kind, concise(line)};
  // Exit code 2 is moebench's bad input: this config cannot run as given.
  if (o.exit_code == 2)
    return {FailureKind::InvalidConfig, concise(line.empty() ? "exit code 2 (bad input)" : line)};
  return {FailureKind::Crash,
          concise(line.empty() ? fmt::format("exit code {} with nothing on stderr", o.exit_code)
                               : fmt::format("exit code {}: {}", o.exit_code, line))};
}

}  // namespace moebench
