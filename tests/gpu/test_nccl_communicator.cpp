// NCCL between GPU ranks (dist/nccl_communicator.hpp): moebench's launcher starts one rank per
// visible GPU (2 to 8; skipped with fewer than 2), each running this binary again as
// NcclCommunicatorRank.RunsAsOneRank: rendezvous with rank 0's unique id, then every collective on
// device buffers, checked element by element against values computed from the rank numbers.
// A world of one runs on one GPU without a server.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "core/subprocess.hpp"
#include "dist/launcher.hpp"
#include "dist/nccl_communicator.hpp"
#include "dist/rendezvous.hpp"

using namespace moebench;

namespace {

int gpu_count() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

// Host <-> device copies of a vector, for checking.
template <typename T>
T* to_device(const std::vector<T>& host) {
  void* p = nullptr;
  if (cudaMalloc(&p, std::max<size_t>(host.size() * sizeof(T), 1)) != cudaSuccess) std::abort();
  if (!host.empty()) cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
  return static_cast<T*>(p);
}
template <typename T>
std::vector<T> to_host(const T* device, size_t n) {
  std::vector<T> host(n);
  if (n) cudaMemcpy(host.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost);
  return host;
}

std::string check_collectives(Communicator& comm, int world) {
  const int me = comm.rank(), n = comm.size();
  if (n != world) return fmt::format("size {}", n);
  auto count = [&](int s, int d) -> size_t {
    if (s == 1 || d == n - 1) return 0;
    return size_t((s * 3 + d * 5) % 4) + size_t(s == d) * 1000;
  };
  auto value = [](int s, int d, size_t k) { return int32_t(s * 100000 + d * 1000 + int(k)); };

  std::vector<float> f(4096);
  for (size_t i = 0; i < f.size(); ++i) f[i] = float(me) * 0.5f + float(i);
  float* f_dev = to_device(f);
  comm.all_reduce_sum(f_dev, f.size());

  std::vector<int32_t> send, recv_expected;
  std::vector<size_t> send_bytes, recv_bytes;
  for (int d = 0; d < n; ++d) {
    send_bytes.push_back(count(me, d) * sizeof(int32_t));
    for (size_t k = 0; k < count(me, d); ++k) send.push_back(value(me, d, k));
  }
  for (int s = 0; s < n; ++s) {
    recv_bytes.push_back(count(s, me) * sizeof(int32_t));
    for (size_t k = 0; k < count(s, me); ++k) recv_expected.push_back(value(s, me, k));
  }
  int32_t* send_dev = to_device(send);
  int32_t* recv_dev = to_device(std::vector<int32_t>(recv_expected.size(), -1));
  comm.all_to_all_v(send_dev, packed_layout(send_bytes), recv_dev, packed_layout(recv_bytes));

  const size_t block = 1000;
  std::vector<float> rs(block * size_t(n));
  for (int b = 0; b < n; ++b)
    for (size_t i = 0; i < block; ++i) rs[size_t(b) * block + i] = float(me + b * 100 + int(i));
  float* rs_dev = to_device(rs);
  float* rs_out = to_device(std::vector<float>(block, -1.0f));
  comm.reduce_scatter_sum(rs_dev, rs_out, block);

  std::vector<uint8_t> mine(7);
  for (size_t j = 0; j < mine.size(); ++j) mine[j] = uint8_t(me * 10 + int(j));
  uint8_t* mine_dev = to_device(mine);
  uint8_t* all_dev = to_device(std::vector<uint8_t>(mine.size() * size_t(n), 0));
  comm.all_gather(mine_dev, mine.size(), all_dev);

  std::vector<uint8_t> bc(33, 0);
  if (me == n - 1)
    for (size_t i = 0; i < bc.size(); ++i) bc[i] = uint8_t(200 - i);
  uint8_t* bc_dev = to_device(bc);
  comm.broadcast(bc_dev, bc.size(), n - 1);
  comm.synchronize();

  const auto f_out = to_host(f_dev, f.size());
  for (size_t i = 0; i < f.size(); ++i)
    if (double(f_out[i]) != 0.5 * n * (n - 1) / 2 + double(n) * double(i))
      return fmt::format("all_reduce [{}] = {}", i, f_out[i]);
  if (to_host(recv_dev, recv_expected.size()) != recv_expected) return "all_to_all_v delivered other values";
  const auto rs_host = to_host(rs_out, block);
  for (size_t i = 0; i < block; ++i)
    if (double(rs_host[i]) != double(n) * (n - 1) / 2 + double(n) * (me * 100 + int(i)))
      return fmt::format("reduce_scatter [{}] = {}", i, rs_host[i]);
  const auto all = to_host(all_dev, mine.size() * size_t(n));
  for (int r = 0; r < n; ++r)
    for (size_t j = 0; j < mine.size(); ++j)
      if (all[size_t(r) * mine.size() + j] != uint8_t(r * 10 + int(j))) return fmt::format("all_gather rank {} byte {}", r, j);
  const auto bc_host = to_host(bc_dev, bc.size());
  for (size_t i = 0; i < bc.size(); ++i)
    if (bc_host[i] != uint8_t(200 - i)) return fmt::format("broadcast byte {}", i);

  const auto blobs = comm.gather_to_root(std::string(size_t(me) * 3, char('a' + me)));
  if (me == 0) {
    if (blobs.size() != size_t(n)) return fmt::format("{} blobs gathered", blobs.size());
    for (int r = 0; r < n; ++r)
      if (blobs[size_t(r)] != std::string(size_t(r) * 3, char('a' + r))) return fmt::format("rank {}'s blob", r);
  } else if (!blobs.empty()) {
    return "blobs on a rank other than 0";
  }
  comm.barrier();
  for (void* p : {(void*)f_dev, (void*)send_dev, (void*)recv_dev, (void*)rs_dev, (void*)rs_out, (void*)mine_dev,
                  (void*)all_dev, (void*)bc_dev})
    cudaFree(p);
  return "";
}

}  // namespace

// The body of each rank NcclCommunicator.CollectivesOnEveryGpu starts; skipped when run otherwise.
TEST(NcclCommunicatorRank, RunsAsOneRank) {
  if (!std::getenv("MOEBENCH_RANK")) GTEST_SKIP() << "runs only as a rank of NcclCommunicator.CollectivesOnEveryGpu";
  DistRequest request;
  request.world_size = std::atoi(std::getenv("MOEBENCH_WORLD_SIZE"));
  request.visible_gpus = gpu_count();
  const RankEnv env = resolve_rank_env(current_environment(), request);
  RendezvousOptions options;
  options.config = {{"test", "nccl"}, {"world", env.world_size}};
  options.shared_blob = env.rank == 0 ? nccl_unique_id() : "";
  options.timeout_s = 60;
  auto rdv = Rendezvous::join(env, options);
  cudaStream_t stream;
  ASSERT_EQ(cudaSetDevice(env.local_rank), cudaSuccess);
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  auto comm = make_nccl_communicator(*rdv, env.local_rank, stream);
  EXPECT_STREQ(std::getenv("NCCL_NVLS_ENABLE"), "0");
  EXPECT_EQ(check_collectives(*comm, env.world_size), "");
}

TEST(NcclCommunicator, CollectivesOnEveryGpu) {
  const int gpus = std::min(gpu_count(), 8);
  if (gpus < 2) GTEST_SKIP() << "needs 2 or more GPUs, " << gpus << " visible";
  DistRequest request;
  request.world_size = gpus;
  request.visible_gpus = gpus;
  LaunchSpec spec;
  spec.node = resolve_rank_env({}, request);
  spec.executable = self_executable();
  spec.args = {"--gtest_filter=NcclCommunicatorRank.RunsAsOneRank"};
  const LaunchOutcome outcome = launch_local_ranks(spec);
  EXPECT_TRUE(outcome.ok) << outcome.message;
}

TEST(NcclCommunicator, WorldOfOneNeedsNoServer) {
  if (gpu_count() < 1) GTEST_SKIP() << "no CUDA GPU visible";
  RankEnv env;  // rank 0 of 1: no rendezvous address at all
  RendezvousOptions options;
  options.shared_blob = nccl_unique_id();
  auto rdv = Rendezvous::join(env, options);
  cudaStream_t stream;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  auto comm = make_nccl_communicator(*rdv, 0, stream);
  EXPECT_EQ(check_collectives(*comm, 1), "");
}
