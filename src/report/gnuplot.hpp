#pragma once
// Plots through gnuplot (DESIGN.md: plots are gnuplot's job). A plot is a script and its data
// files; the runner writes both to a fresh temporary directory, runs `gnuplot` there and
// returns the PNG it made, checked to be a non-empty PNG.
#include <string>
#include <utility>
#include <vector>

namespace moebench {

struct PlotSpec {
  std::string file_name;  // what the report calls it: "latency_comparison.png"
  std::string title;      // one line: the image's caption and alt text
  int width = 1100;       // pixels
  int height = 600;
  // gnuplot commands after the terminal and output are set; they read `data` by file name.
  std::string script;
  std::vector<std::pair<std::string, std::string>> data;  // file name -> contents
};

// Whether a `gnuplot` executable is on PATH.
bool gnuplot_available();
// Throws InputError, one line saying how to install gnuplot, when it is not on PATH.
void require_gnuplot();

// The PNG bytes of `plot`: pngcairo where gnuplot has it, else gnuplot's png terminal. Throws
// InputError when gnuplot is missing, std::runtime_error with gnuplot's own message when it
// fails or makes no PNG.
std::string render_png(const PlotSpec& plot);

// A string as a gnuplot double-quoted literal (labels, titles, file names).
std::string gnuplot_quote(const std::string& text);

}  // namespace moebench
