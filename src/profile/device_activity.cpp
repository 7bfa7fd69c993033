#include "profile/device_activity.hpp"

namespace moebench {

namespace {

// The CPU backend runs work as it is called: the host phases are the whole story.
class HostOnlyActivity : public DeviceActivity {
 public:
  const char* source() const override { return "host"; }
  std::string description() const override { return "host-timed phases (CPU backend)"; }
  std::vector<TraceSpan> collect() override { return {}; }
};

}  // namespace

std::unique_ptr<DeviceActivity> make_device_activity(Backend& backend, const TraceClock& clock) {
#ifdef MOEBENCH_WITH_CUDA
  if (backend.kind() == BackendKind::cuda) {
    std::string why_not;
    if (std::unique_ptr<DeviceActivity> cupti = make_cupti_activity(clock, why_not)) return cupti;
    return make_cuda_event_activity(backend, clock, why_not);
  }
#else
  (void)backend;
  (void)clock;
#endif
  return std::make_unique<HostOnlyActivity>();
}

}  // namespace moebench
