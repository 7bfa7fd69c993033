#include "report/report_document.hpp"

#include <cctype>
#include <stdexcept>

#include <fmt/format.h>

#include "report/base64.hpp"

namespace moebench {

namespace {

// Markdown table cells: a '|' would end the cell, a newline the row.
std::string md_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

constexpr const char* kStyle =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1200px;margin:2em auto;"
    "padding:0 1em;color:#222;line-height:1.45}"
    "table{border-collapse:collapse;margin:0.8em 0 1.6em;font-size:0.9em}"
    "th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left}"
    "th{background:#f3f3f3}.num{text-align:right;font-variant-numeric:tabular-nums}"
    "figure{margin:1em 0}img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:0.9em}"
    "h1{border-bottom:2px solid #333}h2{border-bottom:1px solid #ccc;margin-top:2em}";

// "12.5", "-3", "1.27x", "-" (no value): a cell that lines up on the right.
bool numeric_cell(const std::string& cell) {
  if (cell == "-") return true;
  size_t i = cell[0] == '-' ? 1 : 0;
  if (i >= cell.size() || !std::isdigit((unsigned char)cell[i])) return false;
  for (; i < cell.size(); ++i)
    if (!std::isdigit((unsigned char)cell[i]) && cell[i] != '.' && !(cell[i] == 'x' && i + 1 == cell.size()))
      return false;
  return true;
}

const char* html_align(const ReportBlock& b, size_t column) {
  return column < b.numeric.size() && b.numeric[column] ? " class=\"num\"" : "";
}

}  // namespace

void ReportDocument::heading(std::string text, int level) {
  ReportBlock b;
  b.kind = ReportBlock::Kind::heading;
  b.level = level;
  b.text = std::move(text);
  blocks.push_back(std::move(b));
}

void ReportDocument::paragraph(std::string text) {
  ReportBlock b;
  b.kind = ReportBlock::Kind::paragraph;
  b.text = std::move(text);
  blocks.push_back(std::move(b));
}

void ReportDocument::table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows) {
  ReportBlock b;
  b.kind = ReportBlock::Kind::table;
  b.header = std::move(header);
  b.rows = std::move(rows);
  for (size_t c = 0; c < b.header.size(); ++c) {
    bool numeric = true;
    for (const auto& row : b.rows) numeric = numeric && c < row.size() && !row[c].empty() && numeric_cell(row[c]);
    b.numeric.push_back(numeric && !b.rows.empty());
  }
  blocks.push_back(std::move(b));
}

void ReportDocument::image(std::string file, std::string caption) {
  ReportBlock b;
  b.kind = ReportBlock::Kind::image;
  b.image_file = std::move(file);
  b.text = std::move(caption);
  blocks.push_back(std::move(b));
}

std::string render_markdown(const ReportDocument& doc) {
  std::string out = "# " + doc.title + "\n";
  for (const ReportBlock& b : doc.blocks) {
    out += "\n";
    switch (b.kind) {
      case ReportBlock::Kind::heading: out += std::string(size_t(b.level), '#') + " " + b.text + "\n"; break;
      case ReportBlock::Kind::paragraph: out += b.text + "\n"; break;
      case ReportBlock::Kind::image: out += fmt::format("![{}]({})\n", b.text, b.image_file); break;
      case ReportBlock::Kind::table: {
        out += "|";
        for (const std::string& h : b.header) out += fmt::format(" {} |", md_cell(h));
        out += "\n|";
        for (size_t i = 0; i < b.header.size(); ++i) out += b.numeric[i] ? "---:|" : "---|";
        out += "\n";
        for (const auto& row : b.rows) {
          out += "|";
          for (const std::string& cell : row) out += fmt::format(" {} |", md_cell(cell));
          out += "\n";
        }
        break;
      }
    }
  }
  return out;
}

std::string render_html(const ReportDocument& doc, const std::map<std::string, std::string>& png_by_file) {
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{0}</title>\n"
      "<style>{1}</style>\n</head>\n<body>\n<h1>{0}</h1>\n",
      html_escape(doc.title), kStyle);
  for (const ReportBlock& b : doc.blocks) {
    switch (b.kind) {
      case ReportBlock::Kind::heading: out += fmt::format("<h{0}>{1}</h{0}>\n", b.level, html_escape(b.text)); break;
      case ReportBlock::Kind::paragraph: out += "<p>" + html_escape(b.text) + "</p>\n"; break;
      case ReportBlock::Kind::image: {
        auto it = png_by_file.find(b.image_file);
        if (it == png_by_file.end()) throw std::logic_error("report image " + b.image_file + " was not rendered");
        out += fmt::format("<figure><img src=\"data:image/png;base64,{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>\n",
                           base64_encode(it->second), html_escape(b.text), html_escape(b.text));
        break;
      }
      case ReportBlock::Kind::table: {
        out += "<table>\n<thead><tr>";
        for (size_t c = 0; c < b.header.size(); ++c)
          out += fmt::format("<th{}>{}</th>", html_align(b, c), html_escape(b.header[c]));
        out += "</tr></thead>\n<tbody>\n";
        for (const auto& row : b.rows) {
          out += "<tr>";
          for (size_t c = 0; c < row.size(); ++c)
            out += fmt::format("<td{}>{}</td>", html_align(b, c), html_escape(row[c]));
          out += "</tr>\n";
        }
        out += "</tbody>\n</table>\n";
        break;
      }
    }
  }
  return out + "</body>\n</html>\n";
}

}  // namespace moebench
