#pragma once
// Bus bandwidth as nccl-tests reports it, and its measurement on a run's own communicator: the
// ceiling a parallel layer's exchanges are set beside (DESIGN.md: ceilings measured in the same
// run). The arithmetic is nccl-tests' (src/all_reduce.cu, src/alltoall.cu):
//
//   size   = the bytes each rank sends in one call (all-to-all: its blocks for every peer together,
//            each peer's block a multiple of 16 bytes)
//   algbw  = size / time
//   busbw  = algbw * 2 (n - 1) / n     all-reduce (what each rank's links carry in a ring)
//   busbw  = algbw * (n - 1) / n       all-to-all (the part of size that leaves the rank)
//
// so busbw is comparable across rank counts and with the links' speed. On one rank busbw is 0 by
// the formula: nothing leaves the GPU, and nothing is reported as if it had.
//
// measure_bus_bandwidth() runs a collective on any Communicator (Gloo between CPU ranks, NCCL
// between GPUs: all_to_all_v is the grouped ncclSend/ncclRecv the ep layers exchange with), checks
// one call's result element by element, then times warm-up and timed calls, each timed on its own
// (CUDA events on the GPU, the host clock on the CPU). Each rank takes the median of its calls;
// the ranks' medians are averaged, as nccl-tests averages ranks by default (-a 1). Every rank
// must call it with the same arguments, as every collective.
#include <cmath>
#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "backend/backend.hpp"
#include "dist/communicator.hpp"

namespace moebench {

enum class Collective { all_reduce, all_to_all };
// nccl-tests' names: "all_reduce", "alltoall".
const char* collective_name(Collective c);

// nccl-tests' bus factor: 2 (n - 1) / n for all-reduce, (n - 1) / n for all-to-all; 0 for n = 1.
double bus_factor(Collective c, int ranks);
// The size nccl-tests runs when asked for `requested` bytes of `element_bytes`-byte elements:
// all-reduce as asked (whole elements); all-to-all each peer's block rounded down to a multiple of
// 16 bytes, times the ranks.
size_t collective_size(Collective c, size_t requested, int ranks, size_t element_bytes);

struct BusBandwidth {
  Collective collective = Collective::all_reduce;
  int ranks = 0;            // 0: not measured
  size_t bytes = 0;         // nccl-tests' size (per rank, per call)
  double time_ms = NAN;     // per call
  double algbw_gbps = NAN;  // bytes / time, GB/s (1e9 bytes)
  double busbw_gbps = NAN;  // algbw * bus_factor
  bool measured() const { return ranks > 0 && std::isfinite(time_ms); }
};

// algbw and busbw of `bytes` moved per rank in `time_ms` by `c` over `ranks`.
BusBandwidth bus_bandwidth(Collective c, int ranks, size_t bytes, double time_ms);
nlohmann::ordered_json bus_bandwidth_json(const BusBandwidth& b);

struct BusBandwidthRun {
  size_t bytes = 0;  // asked for; the collective's size may round it down (collective_size)
  int warmup = 2;
  int iters = 10;
};

// Measures `c` on `comm` with buffers of `backend` (which must be where comm's buffers live: the
// rank's GPU for NCCL, host memory for Gloo and a world of one). A wrong result of the checked call
// throws RuntimeFailure(InvalidConfig) naming the rank and element; a peer that fails throws what
// the communicator throws.
BusBandwidth measure_bus_bandwidth(Communicator& comm, Backend& backend, Collective c, const BusBandwidthRun& run);

// The two ceilings of a parallel run, measured once on its communicator: all-to-all (what ep's
// dispatch and combine are) and all-reduce (what tp's combine is).
struct ExchangeCeilings {
  std::string library;  // the communicator's: "nccl", "gloo", "self"
  BusBandwidth all_to_all;
  BusBandwidth all_reduce;
  // The ceiling of the collective `c`.
  const BusBandwidth& of(Collective c) const { return c == Collective::all_to_all ? all_to_all : all_reduce; }
};

// The size a run measures at: 256 MiB per rank on GPUs (where NVLink busbw is near its plateau),
// 4 MiB between CPU ranks (loopback TCP; enough to pass Gloo's latency, small enough for CI).
size_t exchange_ceiling_bytes(BackendKind kind);
ExchangeCeilings measure_exchange_ceilings(Communicator& comm, Backend& backend);
nlohmann::ordered_json exchange_ceilings_json(const ExchangeCeilings& c);
// One line for the table's head: "all-to-all busbw 12.3 GB/s, all-reduce busbw 9.8 GB/s (gloo, 4
// ranks, 4 MiB, nccl-tests' busbw)"; on one rank what the calls took and that no bytes left it.
std::string exchange_ceilings_text(const ExchangeCeilings& c);

// "4 MiB", "256 MiB", "512 KiB", "1.5 GiB": sizes as nccl-tests users read them.
std::string size_text(size_t bytes);

}  // namespace moebench
