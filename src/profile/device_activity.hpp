#pragma once
// What the device did while a layer run was profiled: kernel, copy and memset spans from
// CUPTI activity records where libcupti can be loaded, else CUDA-event spans around each host
// phase; on the CPU backend nothing beyond the host phases themselves.
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "profile/chrome_trace.hpp"
#include "profile/trace_clock.hpp"

namespace moebench {

// Trace process ids: the host thread's tracks, and the device's.
inline constexpr int kHostPid = 1;
inline constexpr int kDevicePid = 2;

class DeviceActivity {
 public:
  virtual ~DeviceActivity() = default;
  // "cupti", "cuda-events" or "host": how the device side of the trace was timed.
  virtual const char* source() const = 0;
  // One line for the user: what is recorded, and why not more (e.g. where CUPTI was sought).
  virtual std::string description() const = 0;
  // Host phase boundaries (the event fallback records an event on the stream at each). Never
  // called while the stream is being captured into a graph.
  virtual void phase_begin(size_t phase_id) { (void)phase_id; }
  virtual void phase_end(size_t phase_id, const std::string& name) {
    (void)phase_id;
    (void)name;
  }
  // Device spans completed since the last call, on `clock`; waits for outstanding work.
  virtual std::vector<TraceSpan> collect() = 0;
};

// The best source the backend allows. Call before the first NVTX range of the process: the
// CUPTI source registers itself as NVTX's injection so that ranges come back as markers.
std::unique_ptr<DeviceActivity> make_device_activity(Backend& backend, const TraceClock& clock);

#ifdef MOEBENCH_WITH_CUDA
// CUPTI activity records; nullptr with `why_not` set where libcupti is absent or refuses.
std::unique_ptr<DeviceActivity> make_cupti_activity(const TraceClock& clock, std::string& why_not);
// CUDA events on the backend's stream around each phase.
std::unique_ptr<DeviceActivity> make_cuda_event_activity(Backend& backend, const TraceClock& clock,
                                                         const std::string& why_not_cupti);
#endif

}  // namespace moebench
