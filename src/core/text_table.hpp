#pragma once
// Tables of text cells for the results commands: aligned for the terminal, or Markdown.
#include <string>
#include <vector>

namespace moebench {

struct TextTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as wide as the header
  std::vector<bool> numeric;                   // right-aligned columns; empty: none
};

// Two spaces between columns, text left-aligned and numbers right-aligned, no trailing blanks.
std::string format_aligned(const TextTable& table);
// "| a | b |" rows under a "|---|---:|" rule; '|' in a cell is escaped.
std::string format_markdown(const TextTable& table);

// A measured figure for people: "-" when unknown (null), at most 4 significant digits below
// 100 and 2 decimals above ("0.1409", "113502.47").
std::string format_figure(const double* value);

}  // namespace moebench
