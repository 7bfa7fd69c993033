#include "report/report_plots.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

namespace moebench {

namespace {

// Past this many models a plot would be unreadable: the first ones (by name) are drawn.
constexpr size_t kMaxPanels = 6;

int scenario_rank(const std::string& s) {
  if (s == "random") return 0;
  if (s == "balanced") return 1;
  if (s == "imbalanced") return 2;
  return 3;
}

std::string number(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : "?"; }

// A bar group or heatmap row: scenario, tokens and, for the latency bars, GPUs (routing,
// hence the heatmap, does not depend on them: 0 there).
struct Group {
  std::string scenario;
  int64_t tokens = 0;
  int gpus = 0;
  bool operator<(const Group& o) const {
    if (scenario != o.scenario) return scenario_before(scenario, o.scenario);
    return std::tie(tokens, gpus) < std::tie(o.tokens, o.gpus);
  }
  std::string label() const {
    return gpus > 1 ? fmt::format("{} T={} {} GPUs", scenario, tokens, gpus) : fmt::format("{} T={}", scenario, tokens);
  }
};

std::vector<std::string> panel_models(const std::vector<std::string>& models, std::string& note) {
  if (models.size() <= kMaxPanels) return models;
  note = fmt::format(" (the first {} of {} models)", kMaxPanels, models.size());
  return {models.begin(), models.begin() + kMaxPanels};
}

PlannedPlot not_made(const char* file, const char* title, std::string why) {
  PlannedPlot p;
  p.file_name = file;
  p.title = title;
  p.why_not = std::move(why);
  return p;
}

PlannedPlot made(const char* file, std::string title, PlotSpec spec) {
  PlannedPlot p;
  p.file_name = file;
  p.title = title;
  p.made = true;
  spec.file_name = file;
  spec.title = std::move(title);
  p.spec = std::move(spec);
  return p;
}

// Log scale where values span more than `ratio`, so small and large token counts both read.
bool wants_log(double lo, double hi, double ratio = 30) { return lo > 0 && hi / lo > ratio; }

}  // namespace

bool scenario_before(const std::string& a, const std::string& b) {
  const int ra = scenario_rank(a), rb = scenario_rank(b);
  return ra != rb ? ra < rb : a < b;
}

std::string throughput_scenario(const ReportData& data, const std::string& model) {
  std::string chosen;
  for (const LayerRow& r : data.layers)
    if (r.model == model && (chosen.empty() || scenario_before(r.scenario, chosen))) chosen = r.scenario;
  return chosen;
}

PlannedPlot latency_comparison_plot(const ReportData& data) {
  const char* file = "latency_comparison.png";
  // A model whose every run failed has no latency to draw: its panel would be empty, so it is
  // named in the title instead.
  std::vector<std::string> models, unmeasured;
  for (const std::string& m : data.model_names) {
    bool ran = false, measured = false;
    for (const LayerRow& r : data.layers)
      if (r.model == m) {
        ran = true;
        measured |= std::isfinite(r.mean_ms);
      }
    if (measured) models.push_back(m);
    else if (ran) unmeasured.push_back(m);
  }
  if (models.empty())
    return not_made(file, "Latency comparison",
                    unmeasured.empty() ? "no layer results" : "no layer result has a measured latency (every run failed)");
  std::string note;
  models = panel_models(models, note);
  for (const std::string& m : unmeasured) note += fmt::format("; {}: no measured latency", m);

  PlotSpec spec;
  spec.height = int(80 + 380 * models.size());
  std::string script = fmt::format("set multiplot layout {},1\n", models.size());
  script +=
      "set style data histogram\nset style histogram cluster gap 1\nset style fill solid 0.85 border -1\n"
      "set boxwidth 0.9\nset datafile missing \"?\"\nset ylabel \"mean latency (ms)\"\nset grid ytics\n"
      "set xtics rotate by -25 nomirror\nset key outside right top\n";
  for (size_t i = 0; i < models.size(); ++i) {
    std::set<std::string> impls;
    std::map<Group, std::map<std::string, double>> cells;
    double lo = INFINITY, hi = 0;
    for (const LayerRow& r : data.layers) {
      if (r.model != models[i]) continue;
      cells[{r.scenario, r.num_tokens, r.tp_size}][r.impl] = r.mean_ms;
      if (!std::isfinite(r.mean_ms)) continue;  // drawn as missing; an implementation never measured has no bars
      impls.insert(r.impl);
      lo = std::min(lo, r.mean_ms);
      hi = std::max(hi, r.mean_ms);
    }
    std::vector<Group> groups;  // in order: the map's
    for (const auto& [g, _] : cells) groups.push_back(g);

    std::string dat = "\"group\"";
    for (const std::string& impl : impls) dat += fmt::format(" {}", gnuplot_quote(impl));
    dat += "\n";
    for (const Group& g : groups) {
      dat += gnuplot_quote(g.label());
      for (const std::string& impl : impls) {
        auto it = cells[g].find(impl);
        dat += fmt::format(" {}", it == cells[g].end() ? std::string("?") : number(it->second));
      }
      dat += "\n";
    }
    const std::string name = fmt::format("latency_{}.dat", i);
    spec.data.push_back({name, dat});
    script += fmt::format("set title {}\n", gnuplot_quote(models[i] + ": mean latency per implementation"));
    if (wants_log(lo, hi))
      script += fmt::format("set logscale y\nset yrange [{}:*]\n", number(lo / 2));
    else
      script += "unset logscale y\nset yrange [0:*]\n";
    script += fmt::format("plot for [c=2:{}] {} using c:xtic(1) title columnheader(c)\n", impls.size() + 1,
                          gnuplot_quote(name));
  }
  script += "unset multiplot\n";
  spec.script = script;
  return made(file, "Latency comparison across implementations" + note, spec);
}

PlannedPlot memory_breakdown_plot(const MemoryBars& memory, const MemorySettings& settings) {
  const char* file = "memory_breakdown.png";
  if (memory.bars.empty())
    return not_made(file, "Memory breakdown", "no model in the results has a decoder stack the memory model can count");
  std::string dat = "\"model\" \"expert weights\" \"other weights\" \"KV cache\" \"activations\" \"buffers\"\n";
  for (const MemoryBar& b : memory.bars)
    dat += fmt::format("{} {} {} {} {} {}\n", gnuplot_quote(b.model), number(b.expert_weights),
                       number(b.other_weights), number(b.kv_cache), number(b.activations), number(b.buffers));
  PlotSpec spec;
  spec.width = std::max(900, int(300 + 160 * memory.bars.size()));
  spec.data.push_back({"memory.dat", dat});
  const std::string title = fmt::format("Memory per GPU (memory model): batch {}, input {}, output {}, TP={} EP={}",
                                        settings.batch_size, settings.input_len, settings.output_len,
                                        settings.layout.tp, settings.layout.ep);
  spec.script = fmt::format(
      "set title {}\nset style data histogram\nset style histogram rowstacked\n"
      "set style fill solid 0.85 border -1\nset boxwidth 0.6\nset ylabel \"GiB per GPU\"\nset grid ytics\n"
      "set yrange [0:*]\nset key outside right top\nset xtics rotate by -20 nomirror\n"
      "plot for [c=2:6] \"memory.dat\" using c:xtic(1) title columnheader(c)\n",
      gnuplot_quote(title));
  return made(file, title, spec);
}

PlannedPlot throughput_scaling_plot(const ReportData& data) {
  const char* file = "throughput_scaling.png";
  // One series per model x implementation (layer rows, in the model's throughput scenario)
  // and per model (end-to-end rows): x -> tokens/s, where x is tokens or batch size, and the
  // GPU count -> tokens/s at the series' largest x.
  struct Series {
    std::string title;
    std::map<int64_t, std::map<int, double>> by_x_gpus;  // x -> GPUs -> tokens/s
  };
  std::map<std::string, Series> series;
  for (const LayerRow& r : data.layers) {
    if (r.scenario != throughput_scenario(data, r.model) || !std::isfinite(r.throughput_tok_per_s)) continue;
    Series& s = series[r.model + "\n" + r.impl];
    s.title = fmt::format("{} {} (layer, {})", r.model, r.impl, r.scenario);
    s.by_x_gpus[r.num_tokens][r.tp_size] = r.throughput_tok_per_s;
  }
  for (const ModelRow& r : data.models) {
    if (!std::isfinite(r.throughput_tok_per_s)) continue;  // a failed run: no point to draw
    Series& s = series[r.model + "\nmodel"];
    s.title = r.model + " (end to end)";
    s.by_x_gpus[r.batch_size][r.tp_size] = r.throughput_tok_per_s;
  }
  if (series.empty()) return not_made(file, "Throughput scaling", "no results with a throughput");

  PlotSpec spec;
  spec.width = 1400;
  spec.height = 620;
  std::string batch_plot, gpu_plot;
  double lo = INFINITY, hi = 0;
  std::set<double> xs;  // every x of the batch panel
  int max_gpus = 1;
  size_t i = 0;
  for (const auto& [key, s] : series) {
    // Batch panel: at the fewest GPUs measured for each x.
    std::string batch_dat, gpu_dat;
    for (const auto& [x, by_gpus] : s.by_x_gpus) {
      const double v = by_gpus.begin()->second;
      xs.insert(double(x));
      batch_dat += fmt::format("{} {}\n", x, number(v));
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    const auto& largest = s.by_x_gpus.rbegin()->second;
    for (const auto& [gpus, v] : largest) {
      gpu_dat += fmt::format("{} {}\n", gpus, number(v));
      max_gpus = std::max(max_gpus, gpus);
    }
    const std::string batch_name = fmt::format("batch_{}.dat", i), gpu_name = fmt::format("gpus_{}.dat", i);
    spec.data.push_back({batch_name, batch_dat});
    spec.data.push_back({gpu_name, gpu_dat});
    batch_plot += fmt::format("{}{} using 1:2 with linespoints lw 2 pt 7 lc {} title {}", i ? ", " : "",
                              gnuplot_quote(batch_name), i + 1, gnuplot_quote(s.title));
    gpu_plot += fmt::format("{}{} using 1:2 with linespoints lw 2 pt 7 lc {} title {}", i ? ", " : "",
                            gnuplot_quote(gpu_name), i + 1,
                            gnuplot_quote(fmt::format("{} at {}", s.title, s.by_x_gpus.rbegin()->first)));
    // Ideal scaling from the fewest GPUs, where there is more than one GPU count to compare.
    if (largest.size() > 1)
      gpu_plot += fmt::format(", {} using 1:({}*$1/{}) with lines dt 2 lc {} notitle", gnuplot_quote(gpu_name),
                              number(largest.begin()->second), largest.begin()->first, i + 1);
    ++i;
  }
  const std::string title = "Throughput scaling: batch size and GPU count";
  std::string script = fmt::format("set multiplot layout 1,2 title {}\n", gnuplot_quote(title));
  script += "set grid\nset key bottom right\nset ylabel \"tokens/s\"\nset logscale x 2\n";
  // From zero unless on a log scale, so that one point or equal values still have a range.
  script += wants_log(lo, hi) ? "set logscale y\n" : "set yrange [0:*]\n";
  if (xs.size() == 1) script += fmt::format("set xrange [{}:{}]\n", number(*xs.begin() / 2.0), number(*xs.begin() * 2.0));
  script += "set title \"against tokens per forward (layer) or batch size (model)\"\n";
  script += "set xlabel \"tokens per forward / batch size\"\n";
  script += "plot " + batch_plot + "\n";
  script += "unset logscale x\nset xlabel \"GPUs\"\nset xtics 1\nset autoscale y\n";
  if (!wants_log(lo, hi)) script += "set yrange [0:*]\n";
  script += fmt::format("set xrange [0.5:{}]\n", max_gpus + 0.5);
  script += max_gpus == 1 ? "set title \"against GPU count (one GPU count in these results)\"\n"
                          : "set title \"against GPU count (dashed: linear scaling)\"\n";
  script += "plot " + gpu_plot + "\nunset multiplot\n";
  spec.script = script;
  return made(file, title, spec);
}

PlannedPlot expert_load_plot(const ReportData& data) {
  const char* file = "expert_load_distribution.png";
  std::vector<std::string> models;
  for (const std::string& m : data.model_names)
    if (std::any_of(data.layers.begin(), data.layers.end(),
                    [&](const LayerRow& r) { return r.model == m && !r.expert_loads.empty(); }))
      models.push_back(m);
  if (models.empty())
    return not_made(file, "Expert load distribution", "no layer result holds per-expert loads");
  std::string note;
  models = panel_models(models, note);

  PlotSpec spec;
  std::string script = fmt::format("set multiplot layout {},1\n", models.size());
  script +=
      "set palette defined (0 \"#ffffff\", 1 \"#fdd49e\", 2 \"#ef6548\", 4 \"#7f0000\")\n"
      "set cblabel \"tokens / average tokens per expert\"\nset xlabel \"expert\"\nunset key\n"
      "set tics out nomirror\n";
  int height = 60;
  for (size_t i = 0; i < models.size(); ++i) {
    // Every implementation of a run sees the same routing: one row per scenario x token count.
    std::map<Group, const LayerRow*> rows;
    for (const LayerRow& r : data.layers)
      if (r.model == models[i] && !r.expert_loads.empty()) rows.emplace(Group{r.scenario, r.num_tokens, 0}, &r);
    std::vector<Group> groups;  // in order: the map's
    for (const auto& [g, _] : rows) groups.push_back(g);

    std::string dat, ytics;
    double top = 1;
    size_t experts = 0;
    for (size_t y = 0; y < groups.size(); ++y) {
      const std::vector<int64_t>& loads = rows[groups[y]]->expert_loads;
      experts = std::max(experts, loads.size());
      double total = 0;
      for (int64_t l : loads) total += double(l);
      const double average = total / double(loads.size());
      for (size_t e = 0; e < loads.size(); ++e) {
        const double share = average > 0 ? double(loads[e]) / average : 0;
        top = std::max(top, share);
        dat += fmt::format("{} {} {}\n", e, y, number(share));
      }
      dat += "\n";
      ytics += fmt::format("{}{} {}", y ? ", " : "", gnuplot_quote(groups[y].label()), y);
    }
    const std::string name = fmt::format("loads_{}.dat", i);
    spec.data.push_back({name, dat});
    script += fmt::format("set title {}\n", gnuplot_quote(fmt::format("{}: {} experts", models[i], experts)));
    // First row on top, as the tables read.
    script += fmt::format("set xrange [-0.5:{}]\nset yrange [{}:-0.5]\nset cbrange [0:{}]\nset ytics ({})\n",
                          double(experts) - 0.5, double(groups.size()) - 0.5, number(std::ceil(top)), ytics);
    // Each cell a filled box: `with image` draws nothing for a grid of one row or one column.
    script += fmt::format("plot {} using 1:2:(0.5):(0.5):3 with boxxyerror fc palette fs solid 1.0 noborder\n",
                          gnuplot_quote(name));
    height += 140 + 36 * int(groups.size());
  }
  script += "unset multiplot\n";
  spec.height = std::max(420, height);
  spec.script = script;
  return made(file, "Expert load distribution (experts x scenarios)" + note, spec);
}

}  // namespace moebench
