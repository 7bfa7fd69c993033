#include "profile/chrome_trace.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

namespace moebench {

using json = nlohmann::ordered_json;

namespace {

// Nanosecond resolution is what the clocks give; more digits are float noise in the file.
double round_ns(double us) { return std::round(us * 1e3) * 1e-3; }

json metadata_event(const char* what, int pid, int tid, const std::string& name) {
  return {{"name", what}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", {{"name", name}}}};
}

}  // namespace

std::string chrome_trace_json(const std::vector<TraceSpan>& spans, const std::map<int, std::string>& process_names,
                              const json& other_data) {
  json events = json::array();
  std::set<int> pids;
  for (const TraceSpan& s : spans) pids.insert(s.pid);
  for (const auto& [pid, name] : process_names)
    if (pids.count(pid)) events.push_back(metadata_event("process_name", pid, 0, name));
  std::set<std::pair<int, int>> named;
  for (const TraceSpan& s : spans)
    if (named.insert({s.pid, s.tid}).second) events.push_back(metadata_event("thread_name", s.pid, s.tid, s.track));

  // Viewers nest same-track spans by order as well as by time: a parent must come before a
  // child starting at the same microsecond, hence longer first on equal starts.
  std::vector<const TraceSpan*> order;
  for (const TraceSpan& s : spans) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(), [](const TraceSpan* a, const TraceSpan* b) {
    return a->start_us != b->start_us ? a->start_us < b->start_us : a->dur_us > b->dur_us;
  });
  for (const TraceSpan* s : order)
    events.push_back({{"name", s->name},
                      {"cat", s->category},
                      {"ph", "X"},
                      {"pid", s->pid},
                      {"tid", s->tid},
                      {"ts", round_ns(s->start_us)},
                      {"dur", round_ns(s->dur_us)},
                      {"args", s->args}});

  json doc = {{"displayTimeUnit", "ms"}, {"otherData", other_data}, {"traceEvents", std::move(events)}};
  // Kernel names and device strings are not always UTF-8: replace rather than fail the file.
  return doc.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace moebench
