#include "report/throughput_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

std::string left_column(const std::string& text, size_t width) { return fmt::format("{:<{}}", text, width); }

std::string cost_text(double dollars) { return fmt::format("${}", grouped_number(dollars, 0)); }

std::string signed_text(double value, const std::string& text) { return (value < 0 ? "-" : "") + text; }

json cost_json(const TrainingCost& c) {
  return {{"tokens_per_sec", c.tokens_per_sec}, {"gpus", c.gpus},
          {"tokens_per_sec_per_gpu", c.tokens_per_sec_per_gpu}, {"tokens_per_day", c.tokens_per_day},
          {"days_to_target", c.days_to_target}, {"gpu_hours", c.gpu_hours},
          {"gpu_days", c.gpu_days}, {"cost", c.cost}};
}

std::string cost_table(const ThroughputReport& r) {
  std::vector<const TrainingCost*> runs = {&*r.baseline};
  if (r.compare) runs.push_back(&*r.compare);
  struct Row {
    std::string metric;
    std::string (*cell)(const TrainingCost&);
  };
  const Row rows[] = {
      {"GPUs", [](const TrainingCost& c) { return std::to_string(c.gpus); }},
      {"tokens/s", [](const TrainingCost& c) { return grouped_number(c.tokens_per_sec, c.tokens_per_sec < 100 ? 2 : 0); }},
      {"tokens/s per GPU", [](const TrainingCost& c) { return grouped_number(c.tokens_per_sec_per_gpu, 1); }},
      {"tokens/day", [](const TrainingCost& c) { return token_count_text(c.tokens_per_day); }},
      {"days to target", [](const TrainingCost& c) { return grouped_number(c.days_to_target, 2); }},
      {"GPU-hours", [](const TrainingCost& c) { return grouped_number(c.gpu_hours, 0); }},
      {"GPU-days", [](const TrainingCost& c) { return grouped_number(c.gpu_days, 1); }},
      {"cost", [](const TrainingCost& c) { return cost_text(c.cost); }},
  };
  size_t width = 16;
  for (const TrainingCost* c : runs)
    for (const Row& row : rows) width = std::max(width, row.cell(*c).size());
  std::string out = fmt::format("{}  {:>{}}", left_column("metric", 16), "baseline", width);
  if (r.compare) out += fmt::format("  {:>{}}", "compare", width);
  out += "\n";
  for (const Row& row : rows) {
    out += left_column(row.metric, 16);
    for (const TrainingCost* c : runs) out += fmt::format("  {:>{}}", row.cell(*c), width);
    out += "\n";
  }
  if (r.savings) {
    const Savings& s = *r.savings;
    out += fmt::format("savings (compare vs baseline): {:.2f}x the throughput, {} days, {} GPU-hours, {} ({:.1f}% of "
                       "the cost)\n",
                       s.speedup, grouped_number(s.days_saved, 2), grouped_number(s.gpu_hours_saved, 0),
                       signed_text(s.cost_saved, cost_text(std::fabs(s.cost_saved))), 100.0 * s.cost_saved_fraction);
  }
  return out;
}

std::string scaling_table(const std::vector<ScalingPoint>& points) {
  const ScalingPoint& base = points.front();
  std::string out = fmt::format("# scaling efficiency at N GPUs = (tokens/s at N / N) / (tokens/s at {} / {})\n",
                                base.gpus, base.gpus);
  out += fmt::format("{:>6}  {:>14}  {:>12}  {:>8}  {:>10}\n", "GPUs", "tokens/s", "per GPU", "speedup", "efficiency");
  for (const ScalingPoint& p : points)
    out += fmt::format("{:>6}  {:>14}  {:>12}  {:>8}  {:>10}\n", p.gpus, grouped_number(p.tokens_per_sec, 0),
                       grouped_number(p.tokens_per_sec_per_gpu, 1), fmt::format("{:.2f}x", p.speedup),
                       fmt::format("{:.1f}%", 100.0 * p.efficiency));
  return out;
}

}  // namespace

std::string grouped_number(double value, int decimals) {
  std::string text = fmt::format("{:.{}f}", std::fabs(value), decimals);
  size_t point = text.find('.');
  size_t int_end = point == std::string::npos ? text.size() : point;
  std::string grouped;
  for (size_t i = 0; i < int_end; ++i) {
    if (i > 0 && (int_end - i) % 3 == 0) grouped += ',';
    grouped += text[i];
  }
  grouped += text.substr(int_end);
  bool zero = text.find_first_not_of("0.") == std::string::npos;
  return (value < 0 && !zero ? "-" : "") + grouped;
}

std::string token_count_text(double tokens) {
  struct Unit {
    double scale;
    const char* suffix;
  };
  for (Unit u : {Unit{1e12, "T"}, Unit{1e9, "B"}, Unit{1e6, "M"}, Unit{1e3, "K"}})
    if (tokens >= u.scale) return fmt::format("{:.2f} {}", tokens / u.scale, u.suffix);
  return fmt::format("{:.0f}", tokens);
}

std::string format_throughput_table(const ThroughputReport& r) {
  std::string out;
  if (r.baseline) {
    out += fmt::format("# moebench throughput: target {} tokens, ${:.2f} per GPU-hour; tokens/s are all GPUs "
                       "together\n",
                       token_count_text(r.target_tokens), r.price_per_gpu_hour);
    out += cost_table(r);
  }
  if (!r.scaling.empty()) out += scaling_table(r.scaling);
  return out;
}

std::string throughput_json(const ThroughputReport& r) {
  json doc = {{"target_tokens", r.target_tokens}, {"price_per_gpu_hour", r.price_per_gpu_hour}};
  doc["baseline"] = r.baseline ? cost_json(*r.baseline) : json(nullptr);
  doc["compare"] = r.compare ? cost_json(*r.compare) : json(nullptr);
  if (r.savings)
    doc["savings"] = {{"speedup", r.savings->speedup}, {"days_saved", r.savings->days_saved},
                      {"gpu_hours_saved", r.savings->gpu_hours_saved}, {"cost_saved", r.savings->cost_saved},
                      {"cost_saved_fraction", r.savings->cost_saved_fraction}};
  else
    doc["savings"] = nullptr;
  json scaling = json::array();
  for (const ScalingPoint& p : r.scaling)
    scaling.push_back({{"gpus", p.gpus}, {"tokens_per_sec", p.tokens_per_sec},
                       {"tokens_per_sec_per_gpu", p.tokens_per_sec_per_gpu}, {"speedup", p.speedup},
                       {"efficiency", p.efficiency}});
  doc["scaling"] = scaling;
  return doc.dump(2) + "\n";
}

}  // namespace moebench
