#pragma once
// parallel_for over [0, n) on the machine's hardware threads: the CPU backend's only
// concurrency primitive. Work is cut into contiguous chunks, one per thread, which suits the
// regular loops of the reference layer; an exception in any chunk is rethrown to the caller.
#include <cstdint>
#include <functional>

namespace moebench {

int hardware_threads();
// Calls body(begin, end) on disjoint chunks covering [0, n), in parallel. Chunks are at
// least `grain` long, so tiny loops stay on the calling thread.
void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& body, int64_t grain = 1);

}  // namespace moebench
