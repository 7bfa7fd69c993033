// Bus bandwidth as nccl-tests reports it (dist/bus_bandwidth.hpp, dist/nccl_bus_bandwidth.hpp) and
// the GPU link matrix's names (dist/gpu_links.hpp), without a GPU:
//  - the formulas against nccl-tests' own arithmetic and worked figures, the sizes it runs, NCCL's
//    version codes, the sizes info measures at for a given free memory;
//  - the measurement on a run's communicator: one rank (busbw 0, the calls still made and timed),
//    3 and 4 Gloo ranks (every rank ends with the same figures, busbw = algbw x the bus factor), and
//    a communicator that delivers wrong data is caught by the checked call;
//  - the texts and JSON `moebench info` and the layer table print.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "backend/backend.hpp"
#include "core/errors.hpp"
#include "dist/bus_bandwidth.hpp"
#include "dist/gpu_links.hpp"
#include "dist/nccl_bus_bandwidth.hpp"
#include "dist/rendezvous.hpp"
#include "dist/self_communicator.hpp"
#include "dist/tcp_socket.hpp"
#include "dist_ranks.hpp"

using namespace moebench;
using namespace moebench::testing;

namespace {

TEST(BusBandwidth, FactorsAreNcclTests) {
  EXPECT_DOUBLE_EQ(bus_factor(Collective::all_reduce, 1), 0.0);
  EXPECT_DOUBLE_EQ(bus_factor(Collective::all_reduce, 2), 1.0);
  EXPECT_DOUBLE_EQ(bus_factor(Collective::all_reduce, 8), 1.75);
  EXPECT_DOUBLE_EQ(bus_factor(Collective::all_to_all, 1), 0.0);
  EXPECT_DOUBLE_EQ(bus_factor(Collective::all_to_all, 2), 0.5);
  EXPECT_DOUBLE_EQ(bus_factor(Collective::all_to_all, 8), 0.875);
  EXPECT_TRUE(std::isnan(bus_factor(Collective::all_reduce, 0)));
}

TEST(BusBandwidth, AlgbwIsSizeOverTimeAndBusbwScalesIt) {
  // all_reduce_perf -g 8, 256 MiB in 2500 us: algbw 107.37, busbw 187.90 (its printed figures).
  const BusBandwidth a = bus_bandwidth(Collective::all_reduce, 8, 268435456, 2.5);
  EXPECT_NEAR(a.algbw_gbps, 107.374, 1e-3);
  EXPECT_NEAR(a.busbw_gbps, 187.905, 1e-3);
  EXPECT_TRUE(a.measured());
  // alltoall_perf -g 8, 128 MiB in 1000 us: algbw 134.22, busbw 117.44.
  const BusBandwidth t = bus_bandwidth(Collective::all_to_all, 8, 134217728, 1.0);
  EXPECT_NEAR(t.algbw_gbps, 134.218, 1e-3);
  EXPECT_NEAR(t.busbw_gbps, 117.441, 1e-3);
  // One rank: nothing leaves the device, busbw 0 whatever the time.
  const BusBandwidth one = bus_bandwidth(Collective::all_to_all, 1, 1 << 20, 0.01);
  EXPECT_GT(one.algbw_gbps, 0);
  EXPECT_EQ(one.busbw_gbps, 0);
  EXPECT_FALSE(BusBandwidth{}.measured());
}

TEST(BusBandwidth, SizesAreWhatNcclTestsRuns) {
  EXPECT_EQ(collective_size(Collective::all_reduce, 1 << 20, 8, 4), size_t(1) << 20);
  EXPECT_EQ(collective_size(Collective::all_reduce, 10, 3, 4), 8u);
  // alltoall: each peer's count rounded down to 16 bytes: 1 MiB over 3 ranks of floats is
  // 3 x 87380 floats (87381 rounded down to a multiple of 4).
  EXPECT_EQ(collective_size(Collective::all_to_all, 1 << 20, 3, 4), size_t(87380) * 4 * 3);
  EXPECT_EQ(collective_size(Collective::all_to_all, 1 << 20, 8, 4), size_t(1) << 20);
  EXPECT_EQ(collective_size(Collective::all_to_all, 1000, 3, 1), 3u * 320);  // 333 -> 320 bytes
  EXPECT_EQ(collective_size(Collective::all_to_all, 40, 4, 4), 0u);          // 2 floats per peer: under 16 bytes
  EXPECT_EQ(collective_size(Collective::all_to_all, 1 << 20, 0, 4), 0u);
}

TEST(BusBandwidth, SizeTexts) {
  EXPECT_EQ(size_text(size_t(256) << 20), "256 MiB");
  EXPECT_EQ(size_text(size_t(4) << 20), "4 MiB");
  EXPECT_EQ(size_text(512 << 10), "512 KiB");
  EXPECT_EQ(size_text(size_t(3) << 29), "1.5 GiB");
  EXPECT_EQ(size_text(100), "100 B");
}

TEST(NcclBusBandwidth, VersionCodesReadAsNcclWritesThem) {
  EXPECT_EQ(nccl_version_text(22809), "2.28.9");
  EXPECT_EQ(nccl_version_text(21903), "2.19.3");
  EXPECT_EQ(nccl_version_text(2804), "2.8.4");
  EXPECT_EQ(nccl_version_text(0), "unknown");
}

TEST(NcclBusBandwidth, SizesUpTo256MiBWhereMemoryAllows) {
  const size_t mib = size_t(1) << 20;
  EXPECT_EQ(nccl_default_sizes(size_t(80) << 30), (std::vector<size_t>{mib, 16 * mib, 64 * mib, 256 * mib}));
  EXPECT_EQ(nccl_default_sizes(600 * mib), (std::vector<size_t>{mib, 16 * mib, 64 * mib}));
  EXPECT_EQ(nccl_default_sizes(100 * mib), (std::vector<size_t>{mib}));
  EXPECT_EQ(nccl_default_sizes(0), (std::vector<size_t>{mib}));  // the smallest is always tried
}

NcclBusBandwidthReport fake_report(int gpus) {
  NcclBusBandwidthReport r;
  r.runtime_version = 22809;
  r.compiled_version = 22809;
  r.gpus = gpus;
  r.nvls = "0";
  r.warmup = 5;
  r.iters = 20;
  for (size_t mib : {1, 256}) {
    r.all_reduce.push_back(bus_bandwidth(Collective::all_reduce, gpus, mib << 20, 0.01 * double(mib)));
    r.all_to_all.push_back(bus_bandwidth(Collective::all_to_all, gpus, mib << 20, 0.02 * double(mib)));
  }
  return r;
}

TEST(NcclBusBandwidth, TheCeilingIsTheLargestSizesBusbw) {
  const NcclBusBandwidthReport r = fake_report(8);
  ASSERT_NE(largest(r.all_reduce), nullptr);
  EXPECT_EQ(largest(r.all_reduce)->bytes, size_t(256) << 20);
  EXPECT_EQ(largest(std::vector<BusBandwidth>{}), nullptr);
  const std::string line = nccl_ceiling_text(r);
  EXPECT_NE(line.find(fmt::format("all_reduce {:.1f} GB/s", r.all_reduce[1].busbw_gbps)), std::string::npos) << line;
  EXPECT_NE(line.find(fmt::format("alltoall {:.1f} GB/s", r.all_to_all[1].busbw_gbps)), std::string::npos) << line;
  EXPECT_NE(line.find("(256 MiB per GPU, 8 GPUs)"), std::string::npos) << line;
  const std::string table = nccl_bus_bandwidth_text(r, "  ");
  EXPECT_NE(table.find("  8 GPUs, one communicator each (ncclCommInitAll)"), std::string::npos) << table;
  EXPECT_NE(table.find("NCCL_NVLS_ENABLE=0"), std::string::npos) << table;
  EXPECT_NE(table.find("   268435456"), std::string::npos) << table;
  const auto j = nccl_bus_bandwidth_json(r);
  EXPECT_EQ(j["version"], "2.28.9");
  EXPECT_EQ(j["alltoall"].size(), 2u);
  EXPECT_EQ(j["ceiling"]["alltoall"]["bytes"], size_t(256) << 20);
  EXPECT_DOUBLE_EQ(j["ceiling"]["all_reduce"]["busbw_gbps"].get<double>(), r.all_reduce[1].busbw_gbps);
}

TEST(NcclBusBandwidth, OneGpuSaysNoBytesCrossed) {
  const std::string line = nccl_ceiling_text(fake_report(1));
  EXPECT_EQ(line.rfind("NCCL 1 GPU: no inter-GPU traffic, busbw 0", 0), 0u) << line;
  EXPECT_EQ(line.find("GB/s"), std::string::npos) << "no figure that is not a bandwidth: " << line;
}

TEST(GpuLinks, NvidiaSmiNamesAndLayout) {
  GpuLinks g;
  g.links.assign(3, std::vector<GpuLink>(3));
  for (int i = 0; i < 3; ++i) g.links[size_t(i)][size_t(i)] = {LinkKind::self, 0, "", true};
  g.links[0][1] = g.links[1][0] = {LinkKind::nvlink, 18, "", true};
  g.links[0][2] = g.links[2][0] = {LinkKind::pcie, 0, "SYS", false};
  g.links[1][2] = g.links[2][1] = {LinkKind::pcie, 0, "PIX", true};
  EXPECT_EQ(gpu_links_matrix(g, "  "),
            "        GPU0  GPU1  GPU2\n"
            "  GPU0     X  NV18   SYS\n"
            "  GPU1  NV18     X   PIX\n"
            "  GPU2   SYS   PIX     X\n");
  EXPECT_EQ(gpu_links_summary(g), "no peer access: GPU0->GPU2, GPU2->GPU0");
  const auto j = gpu_links_json(g);
  EXPECT_EQ(j["gpus"], 3);
  EXPECT_EQ(j["pairs"][1]["label"], "NV18");
  EXPECT_EQ(j["pairs"][1]["kind"], "nvlink");
  EXPECT_EQ(j["pairs"][2]["pcie_path"], "SYS");

  g.links[0][2] = g.links[2][0] = g.links[1][2] = g.links[2][1] = {LinkKind::nvlink, 18, "", true};
  g.nvswitch = true;
  EXPECT_EQ(gpu_links_summary(g), "every pair over NVLink (NVSwitch); peer access between every pair");
  // Without NVML the kind is unknown: CUDA's peer access alone.
  EXPECT_EQ(link_label({LinkKind::unknown, 0, "", true}), "P2P");
  EXPECT_EQ(link_label({LinkKind::unknown, 0, "", false}), "-");
}

TEST(GpuLinks, OneGpuIsItsOwnMatrix) {
  GpuLinks g;
  g.links = {{{LinkKind::self, 0, "", true}}};
  EXPECT_EQ(gpu_links_matrix(g, ""), "      GPU0\nGPU0     X\n");
  EXPECT_EQ(gpu_links_summary(g), "one GPU: no links to other GPUs");
}

TEST(ExchangeCeilings, OneRankMakesTheCallsAndReportsBusbwZero) {
  auto backend = make_backend(BackendKind::cpu);
  SelfCommunicator self;
  const ExchangeCeilings c = measure_exchange_ceilings(self, *backend);
  EXPECT_EQ(c.library, "self");
  for (const BusBandwidth* b : {&c.all_to_all, &c.all_reduce}) {
    EXPECT_TRUE(b->measured());
    EXPECT_EQ(b->ranks, 1);
    EXPECT_EQ(b->bytes, exchange_ceiling_bytes(BackendKind::cpu));
    EXPECT_GT(b->time_ms, 0);
    EXPECT_EQ(b->busbw_gbps, 0);
  }
  EXPECT_EQ(c.of(Collective::all_to_all).collective, Collective::all_to_all);
  EXPECT_EQ(c.of(Collective::all_reduce).collective, Collective::all_reduce);
  const std::string text = exchange_ceilings_text(c);
  EXPECT_EQ(text.rfind("1 rank: no inter-rank traffic, busbw 0", 0), 0u) << text;
  const auto j = exchange_ceilings_json(c);
  EXPECT_EQ(j["communicator"], "self");
  EXPECT_EQ(j["alltoall"]["busbw_gbps"], 0.0);
}

// A world of two that does nothing but claim it: every result is wrong, which the check sees.
class SilentPairCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  const char* library() const override { return "silent"; }
  void barrier() override {}
  void all_reduce_sum(float*, size_t) override {}
  void all_reduce_sum(double*, size_t) override {}
  void all_gather(const void*, size_t, void*) override {}
  void all_to_all_v(const void* send, const ExchangeLayout& s, void* recv, const ExchangeLayout&) override {
    std::memcpy(recv, send, s.total_bytes());  // its own blocks back, not the peer's
  }
  void reduce_scatter_sum(const float*, float*, size_t) override {}
  void broadcast(void*, size_t, int) override {}
  std::vector<std::string> gather_to_root(const std::string& blob) override { return {blob}; }
  void synchronize() override {}
};

TEST(ExchangeCeilings, AWrongResultIsCaught) {
  auto backend = make_backend(BackendKind::cpu);
  SilentPairCommunicator silent;
  const BusBandwidthRun run{1 << 16, 0, 1};
  try {
    measure_bus_bandwidth(silent, *backend, Collective::all_reduce, run);
    ADD_FAILURE() << "an all-reduce that summed nothing passed";
  } catch (const RuntimeFailure& e) {
    EXPECT_EQ(e.kind(), FailureKind::InvalidConfig);
    EXPECT_NE(std::string(e.what()).find("all_reduce check failed: element 0 is 1, expected 3"), std::string::npos)
        << e.what();
  }
  try {
    measure_bus_bandwidth(silent, *backend, Collective::all_to_all, run);
    ADD_FAILURE() << "an all-to-all that delivered the wrong blocks passed";
  } catch (const RuntimeFailure& e) {
    // Block 0 is its own and right; block 1 should have come from rank 1.
    EXPECT_NE(std::string(e.what()).find("alltoall check failed: element 32768 is 8, expected 32"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(measure_bus_bandwidth(silent, *backend, Collective::all_to_all, {8, 0, 1}), RuntimeFailure)
      << "8 bytes over 2 ranks leaves no 16-byte block";
}

// Every rank of a Gloo world measures; all end with the same figures (the ranks' mean time).
void ceilings_on(int world) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  const int port = pick_free_port();
  const auto runs = run_ranks(
      all_ranks(world),
      [&](int rank) -> std::string {
        RendezvousOptions options;
        options.timeout_s = 20;
        auto rdv = Rendezvous::join(local_rank_env(rank, world, port), options);
        auto comm = make_cpu_communicator(*rdv);
        auto backend = make_backend(BackendKind::cpu);
        const ExchangeCeilings c = measure_exchange_ceilings(*comm, *backend);
        if (c.library != "gloo") return "communicator " + c.library;
        for (Collective k : {Collective::all_to_all, Collective::all_reduce}) {
          const BusBandwidth& b = c.of(k);
          const size_t bytes = collective_size(k, exchange_ceiling_bytes(BackendKind::cpu), world, k == Collective::all_reduce ? 4 : 1);
          if (b.collective != k || b.ranks != world || b.bytes != bytes)
            return fmt::format("{}: {} ranks, {} bytes (expected {})", collective_name(k), b.ranks, b.bytes, bytes);
          if (!(b.time_ms > 0) || !(b.busbw_gbps > 0))
            return fmt::format("{}: {} ms, busbw {}", collective_name(k), b.time_ms, b.busbw_gbps);
          if (std::abs(b.busbw_gbps - b.algbw_gbps * bus_factor(k, world)) > 1e-9 * b.algbw_gbps)
            return fmt::format("{}: busbw {} is not algbw {} x {}", collective_name(k), b.busbw_gbps, b.algbw_gbps,
                               bus_factor(k, world));
          std::vector<double> times(static_cast<size_t>(world));
          comm->all_gather(&b.time_ms, sizeof(double), times.data());
          for (int r = 0; r < world; ++r)
            if (times[size_t(r)] != b.time_ms)
              return fmt::format("{}: rank {} has {} ms, this rank {} ms", collective_name(k), r, times[size_t(r)],
                                 b.time_ms);
        }
        const std::string text = exchange_ceilings_text(c);
        if (text.find(fmt::format("(gloo, {} ranks, ", world)) == std::string::npos) return "text: " + text;
        return "";
      },
      60);
  for (const RankRun& r : runs) EXPECT_TRUE(r.ok()) << "rank " << r.rank << ": " << r.message;
}

TEST(ExchangeCeilings, ThreeGlooRanks) { ceilings_on(3); }
TEST(ExchangeCeilings, FourGlooRanks) { ceilings_on(4); }

}  // namespace
