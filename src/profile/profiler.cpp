#include "profile/profiler.hpp"

#include <cctype>
#include <filesystem>
#include <utility>

#include <fmt/format.h>

#include "profile/nvtx_range.hpp"
#include "core/output_files.hpp"

namespace moebench {

using json = nlohmann::ordered_json;

namespace {

std::string file_name_part(const std::string& text) {
  std::string out;
  for (char c : text) out += (std::isalnum((unsigned char)c) || c == '.' || c == '-') ? c : '-';
  return out;
}

bool starts_within(const TraceSpan& s, const TraceSpan& window) {
  return s.start_us >= window.start_us && s.start_us <= window.end_us();
}

bool inside(const TraceSpan& s, const TraceSpan& window) {
  return starts_within(s, window) && s.end_us() <= window.end_us();
}

}  // namespace

std::string trace_file_path(const std::string& dir, const ProfileRunKey& key) {
  return (std::filesystem::path(dir) / fmt::format("{}_{}_{}_{}.trace.json", file_name_part(key.model),
                                                   file_name_part(key.impl), file_name_part(key.scenario),
                                                   key.num_tokens))
      .string();
}

Profiler::Profiler(Backend& backend, std::string dir, json run_info)
    : device_(make_device_activity(backend, clock_)),
      device_name_(backend.device_info().name),
      dir_(std::move(dir)),
      run_info_(std::move(run_info)) {}

Profiler::SpanId Profiler::begin_span(const std::string& name, const std::string& category) {
  const SpanId id = host_spans_.size();
  device_->phase_begin(id);
  TraceSpan s;
  s.name = name;
  s.category = category;
  s.pid = kHostPid;
  s.tid = 1;
  s.track = "phases (host clock)";
  s.start_us = clock_.now_us();
  host_spans_.push_back(std::move(s));
  return id;
}

void Profiler::end_span(SpanId id) {
  TraceSpan& s = host_spans_.at(id);
  s.dur_us = clock_.now_us() - s.start_us;
  device_->phase_end(id, s.name);
}

std::string Profiler::write_run(const ProfileRunKey& key, SpanId run, const std::vector<SpanId>& setup) {
  for (TraceSpan& s : device_->collect()) device_spans_.push_back(std::move(s));

  const TraceSpan& run_span = host_spans_.at(run);
  std::vector<TraceSpan> windows = {run_span};
  for (SpanId id : setup) windows.push_back(host_spans_.at(id));

  std::vector<TraceSpan> spans = windows;
  for (size_t id = run + 1; id < host_spans_.size(); ++id)
    if (inside(host_spans_[id], run_span)) spans.push_back(host_spans_[id]);
  for (const TraceSpan& s : device_spans_)
    for (const TraceSpan& w : windows)
      if (starts_within(s, w)) {
        spans.push_back(s);
        break;
      }

  json other = run_info_;
  other["model"] = key.model;
  other["impl"] = key.impl;
  other["scenario"] = key.scenario;
  other["num_tokens"] = key.num_tokens;
  other["span_source"] = device_->source();
  other["span_source_detail"] = device_->description();
  const std::string path = trace_file_path(dir_, key);
  const std::string text = chrome_trace_json(spans, {{kHostPid, "moebench (host)"}, {kDevicePid, device_name_}}, other);
  write_files({{path, text}}, "--profile-dir");
  return path;
}

PhaseScope::PhaseScope(Profiler* profiler, const std::string& name, const char* category) : profiler_(profiler) {
  if (profiler_) span_ = profiler_->begin_span(name, category);
  nvtx_push(name);
}

void PhaseScope::end() {
  if (!open_) return;
  open_ = false;
  nvtx_pop();
  if (profiler_) profiler_->end_span(span_);
}

}  // namespace moebench
