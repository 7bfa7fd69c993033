#include "report/gnuplot.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace fs = std::filesystem;

namespace {

constexpr const char* kMissingGnuplot =
    "moebench report: gnuplot not found on PATH: install it (Debian: apt-get install gnuplot-nox; scripts/setup "
    "does) or leave the plots out with --no-plots";
constexpr const char kPngSignature[] = "\x89PNG\r\n\x1a\n";

// A private scratch directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "moebench-plot-XXXXXX").string();
    if (!::mkdtemp(pattern.data()))
      throw std::runtime_error(fmt::format("cannot create a temporary directory for gnuplot: {}",
                                           std::generic_category().message(errno)));
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out.flush()) throw std::runtime_error(fmt::format("cannot write {} for gnuplot", path.string()));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `gnuplot script` in `dir` with its output (messages, errors) into `log`; the exit status.
int run_gnuplot(const fs::path& dir, const std::string& script, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("cannot start gnuplot: fork failed");
  if (pid == 0) {
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    ::execlp("gnuplot", "gnuplot", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string first_line(const std::string& text) {
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t^") != std::string::npos) return line;
  return "no message";
}

}  // namespace

bool gnuplot_available() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    if (!dir.empty() && ::access((fs::path(dir) / "gnuplot").c_str(), X_OK) == 0) return true;
  return false;
}

void require_gnuplot() {
  if (!gnuplot_available()) throw InputError(kMissingGnuplot);
}

std::string gnuplot_quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') continue;
    out += c;
  }
  return out + "\"";
}

std::string render_png(const PlotSpec& plot) {
  require_gnuplot();
  TempDir dir;
  for (const auto& [name, contents] : plot.data) write_file(dir.path() / name, contents);
  // noenhanced: model and config names are shown as written, "_" is not a subscript.
  const std::string script = fmt::format(
      "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {{\n"
      "  set terminal pngcairo size {0},{1} noenhanced font \"sans,10\"\n"
      "}} else {{\n"
      "  set terminal png size {0},{1} noenhanced\n"
      "}}\n"
      "set output \"plot.png\"\n"
      "{2}\n"
      "unset output\n",
      plot.width, plot.height, plot.script);
  write_file(dir.path() / "plot.gp", script);
  const int status = run_gnuplot(dir.path(), "plot.gp", (dir.path() / "gnuplot.log").string());
  const std::string log = read_file(dir.path() / "gnuplot.log");
  if (status == 127) throw InputError(kMissingGnuplot);
  if (status != 0)
    throw std::runtime_error(fmt::format("gnuplot failed on {} (exit {}): {}", plot.file_name, status, first_line(log)));
  std::string png = read_file(dir.path() / "plot.png");
  if (png.size() <= sizeof kPngSignature || png.compare(0, sizeof kPngSignature - 1, kPngSignature) != 0)
    throw std::runtime_error(fmt::format("gnuplot made no PNG for {} ({} bytes): {}", plot.file_name, png.size(),
                                         first_line(log)));
  return png;
}

}  // namespace moebench
