#pragma once
// Chrome trace event format (the JSON that Perfetto and chrome://tracing open): spans as
// complete ("X") events on tracks named by metadata ("M") events.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moebench {

// One interval on one track. Times are microseconds on the profile's clock (TraceClock).
struct TraceSpan {
  std::string name;
  std::string category;  // setup, run, phase, kernel, memcpy, memset, nvtx, gpu-phase
  int pid = 0;           // a process groups tracks: the host, or a GPU
  int tid = 0;
  std::string track;     // the thread (track) name shown for (pid, tid)
  double start_us = 0;
  double dur_us = 0;
  nlohmann::ordered_json args = nlohmann::ordered_json::object();

  double end_us() const { return start_us + dur_us; }
};

// The whole trace document: the names of the processes that have spans, each track named by its first span, the
// spans sorted by start (outer spans before the spans they contain), and `other_data` (what
// ran and how the spans were timed) kept as Perfetto shows it, under "otherData".
std::string chrome_trace_json(const std::vector<TraceSpan>& spans, const std::map<int, std::string>& process_names,
                              const nlohmann::ordered_json& other_data);

}  // namespace moebench
