// nccl-tests' bus bandwidth, and its measurement on a run's communicator (bus_bandwidth.hpp).
#include "dist/bus_bandwidth.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace {

// The byte rank `s` puts in its block for rank `d` of an all-to-all: differs between neighbours
// in either rank, and is never 0 (never a test on zeros).
uint8_t block_byte(int s, int d) { return uint8_t((s * 31 + d * 7) % 255 + 1); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? NAN : v[v.size() / 2];
}

// Rank 0 .. n-1 each hold `mine`; returns the mean over ranks (through a one-element all-reduce on
// comm's buffers).
double mean_over_ranks(Communicator& comm, Backend& backend, double mine) {
  DeviceBuffer sum(backend, sizeof(double));
  backend.copy_to_device(sum.get(), &mine, sizeof mine);
  comm.all_reduce_sum(sum.as<double>(), 1);
  comm.synchronize();
  double total = 0;
  backend.copy_to_host(&total, sum.get(), sizeof total);
  return total / double(comm.size());
}

[[noreturn]] void wrong(const Communicator& comm, Collective c, size_t at, double got, double expected) {
  throw RuntimeFailure(FailureKind::InvalidConfig,
                       fmt::format("rank {}: {} check failed: element {} is {:g}, expected {:g}", comm.rank(),
                                   collective_name(c), at, got, expected));
}

}  // namespace

const char* collective_name(Collective c) { return c == Collective::all_reduce ? "all_reduce" : "alltoall"; }

double bus_factor(Collective c, int ranks) {
  if (ranks <= 0) return NAN;
  const double n = double(ranks);
  return c == Collective::all_reduce ? 2.0 * (n - 1.0) / n : (n - 1.0) / n;
}

size_t collective_size(Collective c, size_t requested, int ranks, size_t element_bytes) {
  if (ranks <= 0 || element_bytes == 0) return 0;
  if (c == Collective::all_reduce) return requested / element_bytes * element_bytes;
  // nccl-tests: paramcount = (count / nranks) & ~(16 / eltSize - 1), in elements of eltSize.
  const size_t per_peer = requested / element_bytes / size_t(ranks);
  const size_t align = std::max<size_t>(16 / element_bytes, 1);
  return (per_peer / align * align) * element_bytes * size_t(ranks);
}

BusBandwidth bus_bandwidth(Collective c, int ranks, size_t bytes, double time_ms) {
  BusBandwidth b;
  b.collective = c;
  b.ranks = ranks;
  b.bytes = bytes;
  b.time_ms = time_ms;
  b.algbw_gbps = time_ms > 0 ? double(bytes) / 1e9 / (time_ms * 1e-3) : NAN;
  b.busbw_gbps = b.algbw_gbps * bus_factor(c, ranks);
  return b;
}

nlohmann::ordered_json bus_bandwidth_json(const BusBandwidth& b) {
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(); };
  return {{"collective", collective_name(b.collective)},
          {"ranks", b.ranks},
          {"bytes", b.bytes},
          {"time_ms", number(b.time_ms)},
          {"algbw_gbps", number(b.algbw_gbps)},
          {"busbw_gbps", number(b.busbw_gbps)}};
}

BusBandwidth measure_bus_bandwidth(Communicator& comm, Backend& backend, Collective c, const BusBandwidthRun& run) {
  const int n = comm.size(), me = comm.rank();
  const size_t element = c == Collective::all_reduce ? sizeof(float) : 1;
  const size_t bytes = collective_size(c, run.bytes, n, element);
  if (bytes == 0)
    throw RuntimeFailure(FailureKind::InvalidConfig,
                         fmt::format("{} of {} bytes over {} ranks leaves nothing to move", collective_name(c),
                                     run.bytes, n));
  const size_t block = bytes / size_t(n);  // all-to-all: each peer's block
  DeviceBuffer send(backend, bytes);
  DeviceBuffer recv(backend, c == Collective::all_to_all ? bytes : 0);
  const ExchangeLayout layout = packed_layout(std::vector<size_t>(size_t(n), block));
  auto call = [&] {
    if (c == Collective::all_reduce)
      comm.all_reduce_sum(send.as<float>(), bytes / sizeof(float));
    else
      comm.all_to_all_v(send.get(), layout, recv.get(), layout);
  };

  // The checked call: all-reduce of (rank + 1) everywhere is n (n + 1) / 2 everywhere (exact in
  // float); all-to-all delivers each peer's block of its own byte.
  if (c == Collective::all_reduce) {
    backend.copy_to_device(send.get(), std::vector<float>(bytes / sizeof(float), float(me + 1)).data(), bytes);
  } else {
    for (int d = 0; d < n; ++d) backend.fill_bytes(send.as<char>() + size_t(d) * block, block_byte(me, d), block);
    backend.fill_bytes(recv.get(), 0, bytes);
  }
  call();
  comm.synchronize();
  if (c == Collective::all_reduce) {
    std::vector<float> got(bytes / sizeof(float));
    backend.copy_to_host(got.data(), send.get(), bytes);
    const float expected = float(n) * float(n + 1) / 2.0f;
    for (size_t i = 0; i < got.size(); ++i)
      if (got[i] != expected) wrong(comm, c, i, got[i], expected);
  } else {
    std::vector<uint8_t> got(bytes);
    backend.copy_to_host(got.data(), recv.get(), bytes);
    for (size_t i = 0; i < got.size(); ++i) {
      const uint8_t expected = block_byte(int(i / block), me);
      if (got[i] != expected) wrong(comm, c, i, got[i], expected);
    }
  }

  for (int w = 0; w < run.warmup; ++w) call();
  std::vector<std::unique_ptr<IntervalTimer>> timers;
  for (int it = 0; it < run.iters; ++it) {
    timers.push_back(backend.make_timer());
    timers.back()->start();
    call();
    timers.back()->stop();
  }
  // The communicator waits (watching for a peer that failed) before the timers are read.
  comm.synchronize();
  std::vector<double> ms;
  for (auto& t : timers) ms.push_back(t->elapsed_ms());
  return bus_bandwidth(c, n, bytes, mean_over_ranks(comm, backend, median(ms)));
}

size_t exchange_ceiling_bytes(BackendKind kind) {
  return kind == BackendKind::cuda ? size_t(256) << 20 : size_t(4) << 20;
}

ExchangeCeilings measure_exchange_ceilings(Communicator& comm, Backend& backend) {
  BusBandwidthRun run;
  run.bytes = exchange_ceiling_bytes(backend.kind());
  run.warmup = 2;
  run.iters = backend.kind() == BackendKind::cuda ? 10 : 5;
  ExchangeCeilings c;
  c.library = comm.library();
  c.all_to_all = measure_bus_bandwidth(comm, backend, Collective::all_to_all, run);
  c.all_reduce = measure_bus_bandwidth(comm, backend, Collective::all_reduce, run);
  return c;
}

nlohmann::ordered_json exchange_ceilings_json(const ExchangeCeilings& c) {
  return {{"communicator", c.library},
          {"alltoall", bus_bandwidth_json(c.all_to_all)},
          {"all_reduce", bus_bandwidth_json(c.all_reduce)}};
}

std::string exchange_ceilings_text(const ExchangeCeilings& c) {
  if (!c.all_to_all.measured() || !c.all_reduce.measured()) return "exchange ceilings not measured";
  if (c.all_to_all.ranks == 1)
    return fmt::format("1 rank: no inter-rank traffic, busbw 0 (all-to-all {:.3f} ms, all-reduce {:.3f} ms at {}, {})",
                       c.all_to_all.time_ms, c.all_reduce.time_ms, size_text(c.all_to_all.bytes), c.library);
  return fmt::format("exchange ceilings: all-to-all busbw {:.1f} GB/s, all-reduce busbw {:.1f} GB/s ({}, {} ranks, {}, "
                     "nccl-tests' busbw)",
                     c.all_to_all.busbw_gbps, c.all_reduce.busbw_gbps, c.library, c.all_to_all.ranks,
                     size_text(c.all_to_all.bytes));
}

std::string size_text(size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return v == double(int64_t(v)) ? fmt::format("{} {}", int64_t(v), units[u]) : fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace moebench
