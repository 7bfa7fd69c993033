// The collectives (dist/communicator.hpp) on 2, 4 and 8 CPU ranks through Gloo, each rank a real
// process, every element checked against a value computed here from the rank numbers alone:
// all_to_all_v with uneven and zero counts, a rank that sends nothing and one that receives
// nothing, layouts with gaps; all_reduce; reduce_scatter; all_gather; broadcast; gather to rank 0.
// A killed rank makes the others fail within the timeout. A world of one exchanges with itself.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "dist/communicator.hpp"
#include "dist/rendezvous.hpp"
#include "dist/self_communicator.hpp"
#include "dist/tcp_socket.hpp"
#include "dist_ranks.hpp"

using namespace moebench;
using namespace moebench::testing;

namespace {

// int32 elements rank s sends to rank d: uneven, zero for some pairs, nothing at all from rank 1,
// nothing at all to rank 2.
size_t elements(int s, int d) {
  if (s == 1 || d == 2) return 0;
  return size_t((s * 3 + d * 5) % 4) + size_t(s == d);
}
int32_t element_value(int s, int d, size_t k) { return int32_t(s * 10000 + d * 100 + int(k)); }

constexpr unsigned char kPoison = 0xAB;
constexpr size_t kGap = 12;  // bytes between peers' blocks, which must stay untouched

std::string check_all_to_all_v(Communicator& comm) {
  const int n = comm.size(), me = comm.rank();
  // Send: peer after peer with a gap before each. Receive: peers in reverse order, gaps too.
  ExchangeLayout send, recv;
  size_t at = 0;
  for (int d = 0; d < n; ++d) {
    at += kGap;
    send.offsets.push_back(at);
    send.bytes.push_back(elements(me, d) * sizeof(int32_t));
    at += send.bytes.back();
  }
  std::vector<unsigned char> send_buf(at + kGap, kPoison);
  for (int d = 0; d < n; ++d)
    for (size_t k = 0; k < elements(me, d); ++k) {
      const int32_t v = element_value(me, d, k);
      std::memcpy(send_buf.data() + send.offsets[size_t(d)] + k * sizeof v, &v, sizeof v);
    }
  recv.bytes.resize(size_t(n));
  recv.offsets.resize(size_t(n));
  at = 0;
  for (int s = n - 1; s >= 0; --s) {
    at += kGap;
    recv.offsets[size_t(s)] = at;
    recv.bytes[size_t(s)] = elements(s, me) * sizeof(int32_t);
    at += recv.bytes[size_t(s)];
  }
  std::vector<unsigned char> recv_buf(at + kGap, kPoison);
  comm.all_to_all_v(send_buf.data(), send, recv_buf.data(), recv);

  std::vector<bool> written(recv_buf.size(), false);
  for (int s = 0; s < n; ++s)
    for (size_t k = 0; k < elements(s, me); ++k) {
      int32_t got;
      const size_t where = recv.offsets[size_t(s)] + k * sizeof got;
      std::memcpy(&got, recv_buf.data() + where, sizeof got);
      if (got != element_value(s, me, k))
        return fmt::format("all_to_all_v: element {} from rank {} is {}, expected {}", k, s, got, element_value(s, me, k));
      for (size_t b = 0; b < sizeof got; ++b) written[where + b] = true;
    }
  for (size_t i = 0; i < recv_buf.size(); ++i)
    if (!written[i] && recv_buf[i] != kPoison) return fmt::format("all_to_all_v wrote byte {} outside every block", i);
  return "";
}

std::string check_collectives(Communicator& comm) {
  const int n = comm.size(), me = comm.rank();
  if (std::string(comm.library()) != "gloo") return std::string("library ") + comm.library();
  comm.barrier();

  // all_reduce: sums of halves and small integers are exact in float and double.
  std::vector<float> f(1000);
  std::vector<double> d(333);
  for (size_t i = 0; i < f.size(); ++i) f[i] = float(me) * 0.5f + float(i);
  for (size_t i = 0; i < d.size(); ++i) d[i] = double(me) * 0.25 - double(i);
  comm.all_reduce_sum(f.data(), f.size());
  comm.all_reduce_sum(d.data(), d.size());
  for (size_t i = 0; i < f.size(); ++i) {
    const double expected = 0.5 * n * (n - 1) / 2 + double(n) * double(i);
    if (double(f[i]) != expected) return fmt::format("all_reduce float [{}] = {}, expected {}", i, f[i], expected);
  }
  for (size_t i = 0; i < d.size(); ++i) {
    const double expected = 0.25 * n * (n - 1) / 2 - double(n) * double(i);
    if (d[i] != expected) return fmt::format("all_reduce double [{}] = {}, expected {}", i, d[i], expected);
  }

  // all_gather: 5 bytes per rank.
  const size_t bytes = 5;
  std::vector<unsigned char> mine(bytes), all(bytes * size_t(n), kPoison);
  for (size_t j = 0; j < bytes; ++j) mine[j] = static_cast<unsigned char>(me * 10 + int(j));
  comm.all_gather(mine.data(), bytes, all.data());
  for (int r = 0; r < n; ++r)
    for (size_t j = 0; j < bytes; ++j)
      if (all[size_t(r) * bytes + j] != static_cast<unsigned char>(r * 10 + int(j)))
        return fmt::format("all_gather: byte {} of rank {} is {}", j, r, all[size_t(r) * bytes + j]);

  if (std::string e = check_all_to_all_v(comm); !e.empty()) return e;

  // reduce_scatter: block b of rank s holds s + b * 100 + i.
  const size_t block = 7;
  std::vector<float> send(block * size_t(n)), recv(block, -1.0f);
  for (int b = 0; b < n; ++b)
    for (size_t i = 0; i < block; ++i) send[size_t(b) * block + i] = float(me + b * 100 + int(i));
  comm.reduce_scatter_sum(send.data(), recv.data(), block);
  for (size_t i = 0; i < block; ++i) {
    const double expected = double(n) * (n - 1) / 2 + double(n) * (me * 100 + int(i));
    if (double(recv[i]) != expected) return fmt::format("reduce_scatter [{}] = {}, expected {}", i, recv[i], expected);
  }

  // broadcast from the last rank.
  std::vector<unsigned char> bc(33, 0);
  if (me == n - 1)
    for (size_t i = 0; i < bc.size(); ++i) bc[i] = static_cast<unsigned char>(200 - i);
  comm.broadcast(bc.data(), bc.size(), n - 1);
  for (size_t i = 0; i < bc.size(); ++i)
    if (bc[i] != static_cast<unsigned char>(200 - i)) return fmt::format("broadcast byte {} is {}", i, bc[i]);

  // gather to rank 0: rank r's blob is 3r bytes of one letter (rank 0's is empty).
  const std::vector<std::string> blobs = comm.gather_to_root(std::string(size_t(me) * 3, char('a' + me)));
  if (me != 0 && !blobs.empty()) return "gather_to_root gave a rank other than 0 blobs";
  if (me == 0) {
    if (blobs.size() != size_t(n)) return fmt::format("gather_to_root gave {} blobs", blobs.size());
    for (int r = 0; r < n; ++r)
      if (blobs[size_t(r)] != std::string(size_t(r) * 3, char('a' + r)))
        return fmt::format("gather_to_root: rank {}'s blob is \"{}\"", r, blobs[size_t(r)]);
  }
  comm.barrier();
  return "";
}

void collectives_on(int world) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  const int port = pick_free_port();
  const auto runs = run_ranks(all_ranks(world), [&](int rank) -> std::string {
    RendezvousOptions options;
    options.timeout_s = 10;
    auto rdv = Rendezvous::join(local_rank_env(rank, world, port), options);
    auto comm = make_cpu_communicator(*rdv);
    if (comm->rank() != rank || comm->size() != world)
      return fmt::format("communicator is rank {} of {}", comm->rank(), comm->size());
    return check_collectives(*comm);
  });
  for (const RankRun& r : runs) EXPECT_TRUE(r.ok()) << "rank " << r.rank << ": " << r.message;
}

}  // namespace

TEST(Communicator, GlooTwoRanks) { collectives_on(2); }
TEST(Communicator, GlooFourRanks) { collectives_on(4); }
TEST(Communicator, GlooEightRanks) { collectives_on(8); }

TEST(Communicator, KilledRankFailsTheOthersWithinTheTimeout) {
  if (!gloo_plugin_built()) GTEST_SKIP() << "built without Gloo (libgloo-dev): no Gloo plugin";
  const int port = pick_free_port();
  const auto runs = run_ranks(all_ranks(4), [&](int rank) -> std::string {
    RendezvousOptions options;
    options.timeout_s = 2;
    auto rdv = Rendezvous::join(local_rank_env(rank, 4, port), options);
    auto comm = make_cpu_communicator(*rdv);
    if (rank == 2) raise(SIGKILL);
    std::vector<float> data(4096, 1.0f);
    for (int i = 0; i < 100; ++i) comm->all_reduce_sum(data.data(), data.size());
    return "all_reduce went on without rank 2";
  });
  EXPECT_EQ(runs[2].signal, SIGKILL);
  for (int r : {0, 1, 3}) {
    const RankRun& run = runs[size_t(r)];
    EXPECT_FALSE(run.hung) << "rank " << r << " hung";
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.message.find(fmt::format("RuntimeFailure"), 0), std::string::npos) << "rank " << r << ": " << run.message;
    // Gloo's own barrier at the end of make_cpu_communicator can still be completing on a rank
    // when rank 2 leaves it and dies: under load the failure is that barrier's, not an
    // all-reduce's. Either way it is a Gloo operation of this rank that failed.
    const bool allreduce = run.message.find(fmt::format("rank {}: gloo allreduce", r)) != std::string::npos;
    const bool barrier = run.message.find(fmt::format("rank {}: gloo barrier", r)) != std::string::npos;
    EXPECT_TRUE(allreduce || barrier) << run.message;
    EXPECT_NE(run.message.find("RuntimeFailure(NcclError)"), std::string::npos) << run.message;
    EXPECT_LT(run.seconds, 8) << "rank " << r;
  }
}

TEST(Communicator, MissingPluginIsOneLineSayingWhatToInstall) {
  const int port = pick_free_port();
  const auto runs = run_ranks({0}, [&](int) -> std::string {
    setenv("MOEBENCH_GLOO_PLUGIN", "/nonexistent/libmoebench_gloo.so", 1);
    RendezvousOptions options;
    options.timeout_s = 5;
    RankEnv env = local_rank_env(0, 2, port);
    // A second rank, in a thread, so that the rendezvous completes and the plugin is looked for.
    std::thread peer([&] {
      auto rdv = Rendezvous::join(local_rank_env(1, 2, port), options);
    });
    auto rdv = Rendezvous::join(env, options);
    peer.join();
    make_cpu_communicator(*rdv);
    return "loaded a plugin that does not exist";
  });
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_NE(runs[0].message.find("InputError: cannot load the Gloo plugin (/nonexistent/libmoebench_gloo.so"),
            std::string::npos)
      << runs[0].message;
  EXPECT_NE(runs[0].message.find("install libgloo0 (scripts/setup)"), std::string::npos) << runs[0].message;
}

TEST(Communicator, WorldOfOneExchangesWithItself) {
  auto rdv = Rendezvous::join(local_rank_env(0, 1, 1), RendezvousOptions{});
  auto comm = make_cpu_communicator(*rdv);
  EXPECT_STREQ(comm->library(), "self");
  float f[3] = {1.5f, -2, 3};
  comm->all_reduce_sum(f, 3);
  EXPECT_EQ(f[1], -2.0f);
  const char send[] = "..xyz";
  char recv[6] = "-----";
  comm->all_to_all_v(send, ExchangeLayout{{3}, {2}}, recv, ExchangeLayout{{3}, {1}});
  EXPECT_STREQ(recv, "-xyz-");
  EXPECT_THROW(comm->all_to_all_v(send, packed_layout({3}), recv, packed_layout({2})), RuntimeFailure);
  float rs[2] = {0, 0};
  const float in[2] = {4, 5};
  comm->reduce_scatter_sum(in, rs, 2);
  EXPECT_EQ(rs[0], 4.0f);
  EXPECT_EQ(rs[1], 5.0f);
  EXPECT_EQ(comm->gather_to_root("blob"), std::vector<std::string>{"blob"});
}
