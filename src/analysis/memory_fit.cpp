#include "analysis/memory_fit.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/errors.hpp"

namespace moebench {

namespace {

double gib(int64_t bytes) { return double(bytes) / double(int64_t(1) << 30); }

bool fits(const MemoryRequest& request, int64_t available_bytes) {
  return count_memory(request).total_bytes() <= available_bytes;
}

}  // namespace

GpuMemory resolve_gpu_memory(std::optional<double> gpu_memory_gib, GpuMemoryProbe probe) {
  if (gpu_memory_gib) {
    if (!std::isfinite(*gpu_memory_gib) || *gpu_memory_gib <= 0 || *gpu_memory_gib > 1e6)
      throw InputError(fmt::format("--gpu-memory-gib must be a positive number of GiB, e.g. 80 (got {})",
                                   *gpu_memory_gib));
    return {int64_t(*gpu_memory_gib * double(int64_t(1) << 30)), "--gpu-memory-gib"};
  }
  if (probe)
    if (std::optional<GpuMemory> gpu = probe()) return *gpu;
  return {kDefaultGpuMemoryBytes, "no GPU visible: H100 80GB assumed, set --gpu-memory-gib"};
}

std::string needed_vs_available(int64_t needed_bytes, int64_t available_bytes) {
  return fmt::format("needed {:.1f} GiB vs available {:.1f} GiB", gib(needed_bytes), gib(available_bytes));
}

void refuse_if_not_fitting(const std::string& what, int64_t needed_bytes, int64_t available_bytes,
                           const std::string& where, const std::string& fix) {
  if (needed_bytes <= available_bytes) return;
  throw InputError(fmt::format("{} does not fit: {}{}; {}", what, needed_vs_available(needed_bytes, available_bytes),
                               where, fix));
}

int64_t largest_fitting_batch(const MemoryRequest& request, int64_t available_bytes) {
  MemoryRequest r = request;
  auto fits_at = [&](int64_t batch) {
    r.batch_size = batch;
    return fits(r, available_bytes);
  };
  if (!fits_at(1)) return 0;
  const int64_t limit = kMaxMemoryTokens / r.context_len();
  // Memory grows with the batch: double until it no longer fits, then bisect.
  int64_t good = 1, bad = 0;
  for (int64_t batch = std::min<int64_t>(2, limit); good < limit; batch = std::min(2 * batch, limit)) {
    if (!fits_at(batch)) {
      bad = batch;
      break;
    }
    good = batch;
  }
  if (bad == 0) return good;  // fits up to the limit
  while (bad - good > 1) {
    int64_t mid = good + (bad - good) / 2;
    (fits_at(mid) ? good : bad) = mid;
  }
  return good;
}

std::optional<LayoutFit> smallest_fitting_layout(const MemoryRequest& request, int64_t available_bytes) {
  std::vector<int> tps;
  for (int64_t tp = 1; tp <= std::max(8, request.layout.tp); tp *= 2) tps.push_back(int(tp));
  if (std::find(tps.begin(), tps.end(), request.layout.tp) == tps.end()) tps.push_back(request.layout.tp);
  std::sort(tps.begin(), tps.end());

  for (int tp : tps) {
    std::vector<int> eps = {request.layout.ep};
    for (int ep = 1; ep <= tp; ep *= 2)
      if (ep != request.layout.ep) eps.push_back(ep);
    for (int ep : eps) {
      MemoryRequest r = request;
      r.layout = {tp, ep};
      if (layout_problem(r.model, r.weight_dtype, r.layout)) continue;
      int64_t needed = count_memory(r).total_bytes();
      if (needed <= available_bytes) return LayoutFit{r.layout, needed};
    }
  }
  return std::nullopt;
}

MemoryAssessment assess_memory(const MemoryRequest& request, const GpuMemory& available) {
  MemoryAssessment a;
  a.request = request;
  a.breakdown = estimate_memory(request);
  a.available = available;
  a.largest_batch = largest_fitting_batch(request, available.bytes);
  a.smallest_layout = smallest_fitting_layout(request, available.bytes);
  return a;
}

}  // namespace moebench
