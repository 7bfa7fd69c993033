#pragma once
// --profile: one Chrome trace (Perfetto, chrome://tracing) per scenario x implementation x
// token count. Host phases are spans on the host clock; the device's kernels, copies and
// memsets (CUPTI), or CUDA-event spans around the phases, are put on the same timeline.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/backend.hpp"
#include "profile/chrome_trace.hpp"
#include "profile/device_activity.hpp"
#include "profile/trace_clock.hpp"

namespace moebench {

struct ProfileRunKey {
  std::string model;
  std::string impl;
  std::string scenario;
  int64_t num_tokens = 0;
};

// DIR/<model>_<impl>_<scenario>_<tokens>.trace.json, with characters that are not safe in a
// file name (a config path's slashes, spaces) replaced by '-'.
std::string trace_file_path(const std::string& dir, const ProfileRunKey& key);

class Profiler {
 public:
  using SpanId = size_t;

  // `dir` must be writable (ensure_writable_directory); `run_info` goes into every trace's
  // otherData (backend, device, moebench version, command line). Create the profiler before
  // the first NVTX range of the process (see make_device_activity).
  Profiler(Backend& backend, std::string dir, nlohmann::ordered_json run_info);

  const char* source() const { return device_->source(); }
  std::string description() const { return device_->description(); }

  // Host spans, nested by scope (PhaseScope opens and closes them).
  SpanId begin_span(const std::string& name, const std::string& category);
  void end_span(SpanId id);

  // Writes the trace of one run: the span `run` and every host span inside it, the `setup`
  // spans (work done once and reused by this run: preparing the implementation, its inputs),
  // and the device spans that started within any of them. Returns the file written.
  std::string write_run(const ProfileRunKey& key, SpanId run, const std::vector<SpanId>& setup);

 private:
  TraceClock clock_;
  std::unique_ptr<DeviceActivity> device_;
  std::string device_name_;
  std::string dir_;
  nlohmann::ordered_json run_info_;
  std::vector<TraceSpan> host_spans_;    // indexed by SpanId
  std::vector<TraceSpan> device_spans_;  // everything collected so far
};

// A phase of a run: an NVTX range always (for nsys and ncu), and a span when profiling.
class PhaseScope {
 public:
  PhaseScope(Profiler* profiler, const std::string& name, const char* category = "phase");
  ~PhaseScope() { end(); }
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;
  void end();  // closes the phase early; later calls do nothing
  Profiler::SpanId span() const { return span_; }

 private:
  Profiler* profiler_;
  Profiler::SpanId span_ = 0;
  bool open_ = true;
};

}  // namespace moebench
