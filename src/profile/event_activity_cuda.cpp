// Device spans without CUPTI: a CUDA event on the backend's stream at each phase boundary, so
// every phase has the GPU time its work took beside the host time it took to enqueue it.
#include <map>
#include <utility>

#include <fmt/format.h>

#include "backend/cuda_backend.hpp"
#include "backend/cuda_check.hpp"
#include "profile/device_activity.hpp"

namespace moebench {

namespace {

class CudaEvent {
 public:
  CudaEvent() { MB_CUDA_CHECK(cudaEventCreate(&event_)); }
  ~CudaEvent() { cudaEventDestroy(event_); }
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_{};
};

class CudaEventActivity : public DeviceActivity {
 public:
  CudaEventActivity(Backend& backend, const TraceClock& clock, std::string why_not_cupti)
      : stream_(cuda_stream(backend)), why_not_cupti_(std::move(why_not_cupti)) {
    // Events only measure time between each other: an anchor, completed and read against
    // the host clock, puts them on the profile's timeline.
    MB_CUDA_CHECK(cudaEventRecord(anchor_.get(), stream_));
    MB_CUDA_CHECK(cudaEventSynchronize(anchor_.get()));
    anchor_us_ = clock.now_us();
  }
  const char* source() const override { return "cuda-events"; }
  std::string description() const override {
    return fmt::format("CUDA-event spans around each phase ({})", why_not_cupti_);
  }
  void phase_begin(size_t phase_id) override {
    auto& begin = open_[phase_id];
    begin = std::make_unique<CudaEvent>();
    MB_CUDA_CHECK(cudaEventRecord(begin->get(), stream_));
  }
  void phase_end(size_t phase_id, const std::string& name) override {
    auto it = open_.find(phase_id);
    if (it == open_.end()) return;
    Closed closed{name, std::move(it->second), std::make_unique<CudaEvent>()};
    open_.erase(it);
    MB_CUDA_CHECK(cudaEventRecord(closed.end->get(), stream_));
    closed_.push_back(std::move(closed));
  }
  std::vector<TraceSpan> collect() override {
    std::vector<TraceSpan> spans;
    for (Closed& c : closed_) {
      MB_CUDA_CHECK(cudaEventSynchronize(c.end->get()));
      float since_anchor_ms = 0, duration_ms = 0;
      MB_CUDA_CHECK(cudaEventElapsedTime(&since_anchor_ms, anchor_.get(), c.begin->get()));
      MB_CUDA_CHECK(cudaEventElapsedTime(&duration_ms, c.begin->get(), c.end->get()));
      TraceSpan s;
      s.name = c.name;
      s.category = "gpu-phase";
      s.pid = kDevicePid;
      s.tid = 0;
      s.track = "stream (CUDA events around phases)";
      s.start_us = anchor_us_ + double(since_anchor_ms) * 1e3;
      s.dur_us = double(duration_ms) * 1e3;
      spans.push_back(std::move(s));
    }
    closed_.clear();
    return spans;
  }

 private:
  struct Closed {
    std::string name;
    std::unique_ptr<CudaEvent> begin, end;
  };
  cudaStream_t stream_;
  std::string why_not_cupti_;
  CudaEvent anchor_;
  double anchor_us_ = 0;
  std::map<size_t, std::unique_ptr<CudaEvent>> open_;
  std::vector<Closed> closed_;
};

}  // namespace

std::unique_ptr<DeviceActivity> make_cuda_event_activity(Backend& backend, const TraceClock& clock,
                                                         const std::string& why_not_cupti) {
  return std::make_unique<CudaEventActivity>(backend, clock, why_not_cupti);
}

}  // namespace moebench
