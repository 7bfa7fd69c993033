// The GPU link matrix's names and layout (gpu_links.hpp); the probe is gpu_links_cuda.cpp.
#include "dist/gpu_links.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace moebench {

namespace {

const char* kind_name(LinkKind kind) {
  switch (kind) {
    case LinkKind::self: return "self";
    case LinkKind::nvlink: return "nvlink";
    case LinkKind::pcie: return "pcie";
    case LinkKind::unknown: break;
  }
  return "unknown";
}

}  // namespace

std::string link_label(const GpuLink& link) {
  switch (link.kind) {
    case LinkKind::self: return "X";
    case LinkKind::nvlink: return fmt::format("NV{}", link.nvlinks);
    case LinkKind::pcie: return link.path.empty() ? "PCIe" : link.path;
    case LinkKind::unknown: break;
  }
  return link.p2p ? "P2P" : "-";
}

std::string gpu_links_matrix(const GpuLinks& g, const std::string& indent) {
  const int n = g.gpus();
  std::vector<std::vector<std::string>> cells(size_t(n) + 1, std::vector<std::string>(size_t(n) + 1));
  for (int i = 0; i < n; ++i) {
    cells[0][size_t(i) + 1] = cells[size_t(i) + 1][0] = fmt::format("GPU{}", i);
    for (int j = 0; j < n; ++j) cells[size_t(i) + 1][size_t(j) + 1] = link_label(g.links[size_t(i)][size_t(j)]);
  }
  size_t width = 0;
  for (const auto& row : cells)
    for (const std::string& c : row) width = std::max(width, c.size());
  std::string out;
  for (const auto& row : cells) {
    std::string line = indent;
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) line += "  ";
      line += c == 0 ? fmt::format("{:<{}}", row[c], width) : fmt::format("{:>{}}", row[c], width);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string gpu_links_summary(const GpuLinks& g) {
  const int n = g.gpus();
  if (n <= 1) return n == 1 ? "one GPU: no links to other GPUs" : "no GPU visible";
  bool all_nvlink = true, all_p2p = true;
  std::string without;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      if (i == j) continue;
      const GpuLink& l = g.links[size_t(i)][size_t(j)];
      all_nvlink = all_nvlink && l.kind == LinkKind::nvlink;
      all_p2p = all_p2p && l.p2p;
      if (!l.p2p) without += fmt::format("{}GPU{}->GPU{}", without.empty() ? "" : ", ", i, j);
    }
  const std::string access = all_p2p ? "peer access between every pair" : "no peer access: " + without;
  if (all_nvlink) return fmt::format("every pair over NVLink{}; {}", g.nvswitch ? " (NVSwitch)" : "", access);
  return access;
}

nlohmann::ordered_json gpu_links_json(const GpuLinks& g) {
  nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
  for (int i = 0; i < g.gpus(); ++i)
    for (int j = 0; j < g.gpus(); ++j) {
      const GpuLink& l = g.links[size_t(i)][size_t(j)];
      pairs.push_back({{"from", i},
                       {"to", j},
                       {"label", link_label(l)},
                       {"kind", kind_name(l.kind)},
                       {"nvlinks", l.nvlinks},
                       {"pcie_path", l.path},
                       {"p2p", l.p2p}});
    }
  return {{"gpus", g.gpus()}, {"bus_ids", g.bus_ids}, {"nvswitch", g.nvswitch}, {"source", g.source},
          {"pairs", pairs}};
}

}  // namespace moebench
