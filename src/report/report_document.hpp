#pragma once
// The report as a document — headings, paragraphs, tables, images — rendered to Markdown
// (report.md beside its PNGs) and to one self-contained HTML file (PNGs as data URIs) from
// the same content, so the two never say different things.
#include <map>
#include <string>
#include <vector>

namespace moebench {

struct ReportBlock {
  enum class Kind { heading, paragraph, table, image };
  Kind kind = Kind::paragraph;
  int level = 2;                                 // heading
  std::string text;                              // heading, paragraph; image: caption
  std::vector<std::string> header;               // table
  std::vector<std::vector<std::string>> rows;    // table
  std::vector<bool> numeric;                     // table: per column, every cell a number (right-aligned)
  std::string image_file;                        // image: "latency_comparison.png"
};

struct ReportDocument {
  std::string title;
  std::vector<ReportBlock> blocks;

  void heading(std::string text, int level = 2);
  void paragraph(std::string text);
  void table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows);
  void image(std::string file, std::string caption);
};

std::string render_markdown(const ReportDocument& doc);
// `png_by_file`: the bytes of every image the document shows, embedded base64.
std::string render_html(const ReportDocument& doc, const std::map<std::string, std::string>& png_by_file);

}  // namespace moebench
