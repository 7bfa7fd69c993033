#include "core/text_table.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace moebench {

namespace {

bool is_numeric(const TextTable& t, size_t column) { return column < t.numeric.size() && t.numeric[column]; }

std::string escape_pipes(const std::string& cell) {
  std::string out;
  for (char c : cell) {
    if (c == '|') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out;
}

}  // namespace

std::string format_aligned(const TextTable& t) {
  std::vector<size_t> width(t.header.size(), 0);
  auto widen = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  };
  widen(t.header);
  for (const auto& row : t.rows) widen(row);
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string& cell = c < row.size() ? row[c] : std::string();
      const std::string pad(width[c] - cell.size(), ' ');
      out += (c ? "  " : "") + (is_numeric(t, c) ? pad + cell : cell + pad);
    }
    out.erase(out.find_last_not_of(' ') + 1);
    return out + "\n";
  };
  std::string out = line(t.header);
  for (const auto& row : t.rows) out += line(row);
  return out;
}

std::string format_markdown(const TextTable& t) {
  auto line = [&](const std::vector<std::string>& row) {
    std::string out = "|";
    for (const std::string& cell : row) {
      out += ' ';
      out += escape_pipes(cell);
      out += " |";
    }
    return out + "\n";
  };
  std::string out = line(t.header) + "|";
  for (size_t c = 0; c < t.header.size(); ++c) out += is_numeric(t, c) ? "---:|" : "---|";
  out += "\n";
  for (const auto& row : t.rows) out += line(row);
  return out;
}

std::string format_figure(const double* value) {
  if (!value || !std::isfinite(*value)) return "-";
  return std::fabs(*value) >= 100 ? fmt::format("{:.2f}", *value) : fmt::format("{:.4g}", *value);
}

}  // namespace moebench
