// Device spans from CUPTI activity records: every kernel (name, grid, block, stream), copy and
// memset, and moebench's NVTX ranges as CUPTI sees them (markers), on the host clock.
//
// libcupti is loaded with dlopen rather than linked: the GPU machine may not have it at a
// standard path, and a missing CUPTI must cost the profile its kernel spans, not the run.
#include <cupti.h>  // types and prototypes only; the functions come from dlsym
#include <cxxabi.h>
#include <dlfcn.h>
#include <link.h>

#include <iterator>
#include <cstdlib>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "profile/device_activity.hpp"

namespace moebench {

using json = nlohmann::ordered_json;

namespace {

// Where libcupti lives: the loader's path first, then the toolkit's two usual places.
const char* const kCuptiCandidates[] = {
    "libcupti.so.13",
    "libcupti.so",
    "/usr/local/cuda/lib64/libcupti.so.13",
    "/usr/local/cuda/lib64/libcupti.so",
    "/usr/local/cuda/extras/CUPTI/lib64/libcupti.so.13",
    "/usr/local/cuda/extras/CUPTI/lib64/libcupti.so",
};

constexpr size_t kBufferBytes = size_t(8) << 20;
constexpr int kHostNvtxTid = 2;  // beside the host phases (tid 1)

struct CuptiApi {
  std::string path;
  decltype(&::cuptiActivityRegisterCallbacks) register_callbacks = nullptr;
  decltype(&::cuptiActivityEnable) enable = nullptr;
  decltype(&::cuptiActivityDisable) disable = nullptr;
  decltype(&::cuptiActivityFlushAll) flush_all = nullptr;
  decltype(&::cuptiActivityGetNextRecord) next_record = nullptr;
  decltype(&::cuptiActivityGetNumDroppedRecords) dropped_records = nullptr;
  decltype(&::cuptiGetTimestamp) timestamp = nullptr;
  decltype(&::cuptiGetResultString) result_string = nullptr;

  std::string error(CUptiResult result) const {
    const char* text = nullptr;
    if (result_string && result_string(result, &text) == CUPTI_SUCCESS && text) return text;
    return fmt::format("CUPTI error {}", int(result));
  }
};

template <typename Fn>
bool resolve(void* handle, const char* name, Fn& fn) {
  fn = reinterpret_cast<Fn>(dlsym(handle, name));
  return fn != nullptr;
}

// Loads the first candidate that has every function used here.
bool load_cupti(CuptiApi& api, std::string& why_not) {
  std::string tried;
  for (const char* candidate : kCuptiCandidates) {
    void* handle = dlopen(candidate, RTLD_NOW | RTLD_LOCAL);
    tried += std::string(tried.empty() ? "" : ", ") + candidate;
    if (!handle) continue;
    const bool complete = resolve(handle, "cuptiActivityRegisterCallbacks", api.register_callbacks) &&
                          resolve(handle, "cuptiActivityEnable", api.enable) &&
                          resolve(handle, "cuptiActivityDisable", api.disable) &&
                          resolve(handle, "cuptiActivityFlushAll", api.flush_all) &&
                          resolve(handle, "cuptiActivityGetNextRecord", api.next_record) &&
                          resolve(handle, "cuptiActivityGetNumDroppedRecords", api.dropped_records) &&
                          resolve(handle, "cuptiGetTimestamp", api.timestamp) &&
                          resolve(handle, "cuptiGetResultString", api.result_string);
    if (!complete) {
      dlclose(handle);
      continue;
    }
    link_map* map = nullptr;
    api.path = dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name[0] ? map->l_name : candidate;
    return true;  // kept loaded for the life of the process: CUPTI's threads run in it
  }
  why_not = "libcupti not found (tried " + tried + ")";
  return false;
}

std::string demangle(const char* name) {
  if (!name) return "?";
  int status = 0;
  char* plain = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = status == 0 && plain ? plain : name;
  std::free(plain);
  return out;
}

// "void cutlass::device_kernel<...>(...)" -> "cutlass::device_kernel", and
// "moebench::(anonymous namespace)::rms_norm_kernel<8, 1>(...)" -> "moebench::rms_norm_kernel":
// the span's label; the full signature stays in its args.
std::string short_kernel_name(const std::string& full) {
  std::string s = full.rfind("void ", 0) == 0 ? full.substr(5) : full;
  const std::string anonymous = "(anonymous namespace)::";
  for (size_t at = s.find(anonymous); at != std::string::npos; at = s.find(anonymous)) s.erase(at, anonymous.size());
  size_t end = s.find_first_of("<(");
  return end == std::string::npos || end == 0 ? s : s.substr(0, end);
}

const char* memcpy_kind_name(uint8_t kind) {
  switch (kind) {
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD: return "HtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH: return "DtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD: return "DtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOH: return "HtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_PTOP: return "PtoP";
    default: return "other";
  }
}

// The process-wide collector: CUPTI's buffer callbacks are plain functions, may run on
// CUPTI's own thread, and there is one activity API per process.
struct Collector {
  CuptiApi api;
  TraceClock clock;
  int64_t cupti_minus_steady_ns = 0;  // CUPTI timestamp - steady clock, measured at start
  std::mutex mutex;
  std::vector<TraceSpan> spans;
  struct OpenMarker {
    std::string name;
    std::string domain;
    uint64_t start = 0;
  };
  std::map<uint32_t, OpenMarker> open_markers;
  size_t dropped = 0;

  double to_us(uint64_t cupti_ns) const { return clock.to_us(int64_t(cupti_ns) - cupti_minus_steady_ns); }

  TraceSpan device_span(std::string name, const char* category, uint32_t stream, uint64_t start, uint64_t end) const {
    TraceSpan s;
    s.name = std::move(name);
    s.category = category;
    s.pid = kDevicePid;
    s.tid = int(stream);
    s.track = fmt::format("stream {}", stream);
    s.start_us = to_us(start);
    s.dur_us = double(end - start) * 1e-3;
    return s;
  }

  void add(const CUpti_Activity* record) {
    switch (record->kind) {
      case CUPTI_ACTIVITY_KIND_KERNEL:
      case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
        auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
        if (k->end <= k->start) return;  // incomplete (a forced flush delivers those too)
        const std::string full = demangle(k->name);
        TraceSpan s = device_span(short_kernel_name(full), "kernel", k->streamId, k->start, k->end);
        s.args = {{"kernel", full},
                  {"grid", {k->gridX, k->gridY, k->gridZ}},
                  {"block", {k->blockX, k->blockY, k->blockZ}},
                  {"stream", k->streamId},
                  {"device", k->deviceId},
                  {"registers_per_thread", k->registersPerThread},
                  {"shared_memory_bytes", int64_t(k->staticSharedMemory) + k->dynamicSharedMemory},
                  {"correlation_id", k->correlationId}};
        if (k->graphId) s.args["graph_id"] = k->graphId;
        spans.push_back(std::move(s));
        return;
      }
      case CUPTI_ACTIVITY_KIND_MEMCPY: {
        auto* m = reinterpret_cast<const CUpti_ActivityMemcpy6*>(record);
        if (m->end <= m->start) return;
        TraceSpan s = device_span(fmt::format("memcpy {}", memcpy_kind_name(m->copyKind)), "memcpy", m->streamId,
                                  m->start, m->end);
        s.args = {{"bytes", m->bytes}, {"kind", memcpy_kind_name(m->copyKind)}, {"stream", m->streamId},
                  {"correlation_id", m->correlationId}};
        spans.push_back(std::move(s));
        return;
      }
      case CUPTI_ACTIVITY_KIND_MEMSET: {
        auto* m = reinterpret_cast<const CUpti_ActivityMemset4*>(record);
        if (m->end <= m->start) return;
        TraceSpan s = device_span("memset", "memset", m->streamId, m->start, m->end);
        s.args = {{"bytes", m->bytes}, {"value", m->value}, {"stream", m->streamId},
                  {"correlation_id", m->correlationId}};
        spans.push_back(std::move(s));
        return;
      }
      case CUPTI_ACTIVITY_KIND_MARKER: {
        auto* m = reinterpret_cast<const CUpti_ActivityMarker2*>(record);
        if (m->flags & CUPTI_ACTIVITY_FLAG_MARKER_START) {
          open_markers[m->id] = {m->name ? m->name : "", m->domain ? m->domain : "", m->timestamp};
        } else if (m->flags & CUPTI_ACTIVITY_FLAG_MARKER_END) {
          auto it = open_markers.find(m->id);
          if (it == open_markers.end() || m->timestamp < it->second.start) return;
          TraceSpan s;
          s.name = it->second.name;
          s.category = "nvtx";
          s.pid = kHostPid;
          s.tid = kHostNvtxTid;
          s.track = "NVTX ranges (CUPTI markers)";
          s.start_us = to_us(it->second.start);
          s.dur_us = double(m->timestamp - it->second.start) * 1e-3;
          s.args = {{"domain", it->second.domain}};
          spans.push_back(std::move(s));
          open_markers.erase(it);
        }
        return;
      }
      default: return;
    }
  }
};

Collector* g_collector = nullptr;

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, kBufferBytes));
  *size = *buffer ? kBufferBytes : 0;  // a zero-size buffer makes CUPTI drop records, counted
  *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext context, uint32_t stream, uint8_t* buffer, size_t, size_t valid) {
  Collector& c = *g_collector;  // set before the callbacks are registered, never unset
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    CUpti_Activity* record = nullptr;
    while (c.api.next_record(buffer, valid, &record) == CUPTI_SUCCESS) c.add(record);
    size_t dropped = 0;
    if (c.api.dropped_records(context, stream, &dropped) == CUPTI_SUCCESS) c.dropped += dropped;
  }
  std::free(buffer);
}

// The CUPTI timestamp minus the steady clock, taken where the two readings are closest.
int64_t clock_offset(const CuptiApi& api) {
  int64_t best_gap = INT64_MAX, offset = 0;
  for (int i = 0; i < 16; ++i) {
    const int64_t before = TraceClock::steady_ns();
    uint64_t cupti = 0;
    api.timestamp(&cupti);
    const int64_t after = TraceClock::steady_ns();
    if (after - before < best_gap) {
      best_gap = after - before;
      offset = int64_t(cupti) - (before + (after - before) / 2);
    }
  }
  return offset;
}

const CUpti_ActivityKind kRequiredKinds[] = {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, CUPTI_ACTIVITY_KIND_MEMCPY,
                                             CUPTI_ACTIVITY_KIND_MEMSET};

class CuptiActivity : public DeviceActivity {
 public:
  CuptiActivity(bool markers, std::string markers_note) : markers_(markers), markers_note_(std::move(markers_note)) {}
  ~CuptiActivity() override {
    const CuptiApi& api = g_collector->api;
    for (CUpti_ActivityKind kind : kRequiredKinds) api.disable(kind);
    if (markers_) api.disable(CUPTI_ACTIVITY_KIND_MARKER);
    api.flush_all(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  }
  const char* source() const override { return "cupti"; }
  std::string description() const override {
    std::lock_guard<std::mutex> lock(g_collector->mutex);
    std::string dropped = g_collector->dropped
                              ? fmt::format("; {} records dropped (buffers full)", g_collector->dropped)
                              : std::string();
    return fmt::format("CUPTI activity records from {} (kernels, copies, memsets{}){}", g_collector->api.path,
                       markers_note_, dropped);
  }
  std::vector<TraceSpan> collect() override {
    g_collector->api.flush_all(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    std::lock_guard<std::mutex> lock(g_collector->mutex);
    std::vector<TraceSpan> out = std::move(g_collector->spans);
    g_collector->spans.clear();
    return out;
  }

 private:
  bool markers_;
  std::string markers_note_;
};

}  // namespace

std::unique_ptr<DeviceActivity> make_cupti_activity(const TraceClock& clock, std::string& why_not) {
  if (g_collector) {
    why_not = "CUPTI activity is already in use in this process";
    return nullptr;
  }
  auto collector = std::make_unique<Collector>();
  if (!load_cupti(collector->api, why_not)) return nullptr;
  collector->clock = clock;
  collector->cupti_minus_steady_ns = clock_offset(collector->api);
  // Lives as long as CUPTI may call back, which is the rest of the process.
  g_collector = collector.release();
  const CuptiApi& api = g_collector->api;

  CUptiResult result = api.register_callbacks(buffer_requested, buffer_completed);
  for (size_t i = 0; result == CUPTI_SUCCESS && i < std::size(kRequiredKinds); ++i)
    result = api.enable(kRequiredKinds[i]);
  if (result != CUPTI_SUCCESS) {
    why_not = fmt::format("CUPTI at {} refused activity recording: {}", api.path, api.error(result));
    for (CUpti_ActivityKind kind : kRequiredKinds) api.disable(kind);
    return nullptr;
  }
  // NVTX asks this variable which tool to hand its ranges to, at its first call: naming
  // CUPTI turns moebench's ranges into MARKER records. A tool already named (nsys) keeps them.
  const char* injection = std::getenv("NVTX_INJECTION64_PATH");
  const bool nvtx_elsewhere = injection && api.path != injection;
  if (!injection) setenv("NVTX_INJECTION64_PATH", api.path.c_str(), 0);
  // Markers are the NVTX ranges as CUPTI saw them: a bonus beside the host phases.
  std::string markers_note = ", NVTX markers";
  const CUptiResult markers = nvtx_elsewhere ? CUPTI_ERROR_NOT_SUPPORTED : api.enable(CUPTI_ACTIVITY_KIND_MARKER);
  if (nvtx_elsewhere)
    markers_note = fmt::format("; NVTX ranges go to {}", injection);
  else if (markers != CUPTI_SUCCESS)
    markers_note = fmt::format("; no NVTX markers: {}", api.error(markers));
  return std::make_unique<CuptiActivity>(markers == CUPTI_SUCCESS, markers_note);
}

}  // namespace moebench
