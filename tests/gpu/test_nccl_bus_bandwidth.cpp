// NCCL's bus bandwidth and the GPU links on the GPUs this machine has (1 is enough):
//  - info's measurement (dist/nccl_bus_bandwidth.hpp): ncclCommInitAll over every visible GPU,
//    all-reduce and all-to-all at the sizes asked (each call's result checked inside), the sizes
//    nccl-tests runs, times > 0, busbw 0 on one GPU and > 0 on more, NCCL's versions, NVLS off;
//  - a run's exchange ceilings on an NCCL communicator of one rank (dist/bus_bandwidth.hpp): the
//    calls succeed at 256 MiB, busbw 0;
//  - the link matrix (dist/gpu_links.hpp): one row per GPU, X on the diagonal, symmetric kinds;
//  - `moebench info` as a job: the links, NCCL and its busbw in the JSON.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <nccl.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "backend/cuda_backend.hpp"
#include "bench/info_job.hpp"
#include "dist/bus_bandwidth.hpp"
#include "dist/gpu_links.hpp"
#include "dist/nccl_bus_bandwidth.hpp"
#include "dist/nccl_communicator.hpp"
#include "dist/rendezvous.hpp"
#include "gpu_test_util.hpp"

using namespace moebench;

namespace {

TEST(NcclBusBandwidth, EveryGpuAtTheSizesAsked) {
  REQUIRE_GPU();
  const int gpus = cuda_device_count();
  NcclBusBandwidthOptions options;
  options.sizes = {size_t(1) << 20, size_t(3) << 20};
  options.warmup = 1;
  options.iters = 3;
  const NcclBusBandwidthReport r = measure_nccl_bus_bandwidth(options);
  EXPECT_EQ(r.gpus, gpus);
  EXPECT_EQ(r.compiled_version, NCCL_VERSION_CODE);
  EXPECT_GE(r.runtime_version, 22800) << nccl_version_text(r.runtime_version);
  EXPECT_STREQ(std::getenv("NCCL_NVLS_ENABLE"), "0");
  EXPECT_EQ(r.nvls, "0");
  EXPECT_EQ(r.iters, 3);
  ASSERT_EQ(r.all_reduce.size(), 2u);
  ASSERT_EQ(r.all_to_all.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(options.sizes[i]);
    EXPECT_EQ(r.all_reduce[i].bytes, options.sizes[i]);
    EXPECT_EQ(r.all_to_all[i].bytes, collective_size(Collective::all_to_all, options.sizes[i], gpus, sizeof(float)));
    for (const BusBandwidth* b : {&r.all_reduce[i], &r.all_to_all[i]}) {
      EXPECT_EQ(b->ranks, gpus);
      EXPECT_GT(b->time_ms, 0);
      EXPECT_GT(b->algbw_gbps, 0);
      if (gpus == 1) {
        EXPECT_EQ(b->busbw_gbps, 0) << "one GPU: no bytes cross";
      } else {
        EXPECT_GT(b->busbw_gbps, 0);
      }
    }
  }
  EXPECT_EQ(largest(r.all_to_all)->bytes, r.all_to_all[1].bytes);
  if (gpus == 1) {
    EXPECT_NE(nccl_ceiling_text(r).find("1 GPU: no inter-GPU traffic"), std::string::npos);
  }
  int device = -1;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  EXPECT_EQ(device, 0) << "the current device is given back";
}

TEST(NcclBusBandwidth, DefaultSizesReach256MiBOnAnEmptyGpu) {
  REQUIRE_GPU();
  size_t free = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free, &total), cudaSuccess);
  if (free < (size_t(4) << 30)) GTEST_SKIP() << "less than 4 GiB free";
  NcclBusBandwidthOptions options;
  options.warmup = 1;
  options.iters = 2;
  const NcclBusBandwidthReport r = measure_nccl_bus_bandwidth(options);
  ASSERT_FALSE(r.all_reduce.empty());
  EXPECT_EQ(largest(r.all_reduce)->bytes, size_t(256) << 20);
  EXPECT_EQ(largest(r.all_to_all)->bytes, collective_size(Collective::all_to_all, size_t(256) << 20, r.gpus, 4));
}

TEST(ExchangeCeilings, OneNcclRankMakesTheCallsAndReportsBusbwZero) {
  REQUIRE_GPU();
  select_cuda_device(0);
  auto backend = make_backend(BackendKind::cuda);
  RankEnv env;  // rank 0 of 1
  RendezvousOptions options;
  options.shared_blob = nccl_unique_id();
  auto rdv = Rendezvous::join(env, options);
  auto comm = make_nccl_communicator(*rdv, 0, cuda_stream(*backend));
  const ExchangeCeilings c = measure_exchange_ceilings(*comm, *backend);
  EXPECT_EQ(c.library, "nccl");
  for (const BusBandwidth* b : {&c.all_to_all, &c.all_reduce}) {
    EXPECT_TRUE(b->measured());
    EXPECT_EQ(b->ranks, 1);
    EXPECT_EQ(b->bytes, size_t(256) << 20);
    EXPECT_GT(b->time_ms, 0);
    EXPECT_EQ(b->busbw_gbps, 0);
  }
  EXPECT_NE(exchange_ceilings_text(c).find("1 rank: no inter-rank traffic"), std::string::npos);
}

TEST(GpuLinks, OneRowPerGpuItselfOnTheDiagonal) {
  REQUIRE_GPU();
  const GpuLinks g = probe_gpu_links();
  const int n = cuda_device_count();
  ASSERT_EQ(g.gpus(), n);
  EXPECT_EQ(g.bus_ids.size(), size_t(n));
  EXPECT_FALSE(g.source.empty());
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(link_label(g.links[size_t(i)][size_t(i)]), "X");
    for (int j = 0; j < n; ++j) {
      EXPECT_EQ(g.links[size_t(i)][size_t(j)].kind, g.links[size_t(j)][size_t(i)].kind) << i << "," << j;
      EXPECT_EQ(g.links[size_t(i)][size_t(j)].nvlinks, g.links[size_t(j)][size_t(i)].nvlinks) << i << "," << j;
    }
  }
  std::printf("%s%s\n%s\n", gpu_links_matrix(g, "  ").c_str(), gpu_links_summary(g).c_str(), g.source.c_str());
}

TEST(InfoJob, JsonHasTheLinksNcclAndItsBusbw) {
  REQUIRE_GPU();
  InfoJob job;
  job.backend = "cuda";
  job.output_format = "json";
  ::testing::internal::CaptureStdout();
  ASSERT_EQ(run_info_job(job), 0);
  const nlohmann::json j = nlohmann::json::parse(::testing::internal::GetCapturedStdout());
  EXPECT_EQ(j["backend"], "cuda");
  EXPECT_EQ(j["gpu_links"]["gpus"], cuda_device_count());
  EXPECT_FALSE(j["nccl"]["version"].get<std::string>().empty());
  EXPECT_EQ(j["nccl"]["nvls_enable"], "0");
  EXPECT_EQ(j["nccl"]["gpus"], cuda_device_count());
  const auto& ceiling = j["nccl"]["ceiling"];
  for (const char* c : {"all_reduce", "alltoall"}) {
    ASSERT_TRUE(ceiling.contains(c)) << c;
    EXPECT_GT(ceiling[c]["time_ms"].get<double>(), 0) << c;
    if (cuda_device_count() == 1) {
      EXPECT_EQ(ceiling[c]["busbw_gbps"].get<double>(), 0) << c;
    }
  }
  EXPECT_GT(j["ceilings"]["gemm_tflops"].get<double>(), 0);
}

}  // namespace
