// The TCP rendezvous (dist/rendezvous.hpp) with real processes on 127.0.0.1: 2, 4 and 8 ranks get
// rank 0's blob and the rank table and share the store; a differing configuration is refused
// naming the field; a rank that never arrives, a missing rank 0 and a port in use each end with
// their one line, within the timeout.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "dist/config_fingerprint.hpp"
#include "dist/rendezvous.hpp"
#include "dist/tcp_socket.hpp"
#include "dist_ranks.hpp"

using namespace moebench;
using namespace moebench::testing;

namespace {

nlohmann::json config(int num_tokens) {
  return {{"model", "qwen3-30b-a3b"}, {"num_tokens", num_tokens}, {"impl", {"ep", "fused-ep"}}, {"dtype", "bf16"}};
}

// The 128 bytes rank 0 hands out (NCCL's unique id is that long), different from any rank's own.
std::string blob_of_rank_zero() {
  std::string blob(128, '\0');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = char((i * 7 + 3) & 0xff);
  return blob;
}

void expect_all_failed_with(const std::vector<RankRun>& runs, const std::string& line, double within_s) {
  for (const RankRun& r : runs) {
    EXPECT_FALSE(r.hung) << "rank " << r.rank << " hung";
    EXPECT_EQ(r.exit_code, 1) << "rank " << r.rank;
    EXPECT_NE(r.message.find(line), std::string::npos) << "rank " << r.rank << ": " << r.message;
    EXPECT_LT(r.seconds, within_s) << "rank " << r.rank;
  }
}

void join_and_check(int world) {
  const int port = pick_free_port();
  const std::string expected_blob = blob_of_rank_zero();
  const auto runs = run_ranks(all_ranks(world), [&](int rank) -> std::string {
    RendezvousOptions options;
    options.config = config(4096);
    options.shared_blob = rank == 0 ? expected_blob : std::string(128, char(rank));
    options.timeout_s = 10;
    auto rdv = Rendezvous::join(local_rank_env(rank, world, port), options);
    // What rank 0 handed out, compared with an independent copy.
    std::string blob(128, '\0');
    for (size_t i = 0; i < blob.size(); ++i) blob[i] = char((i * 7 + 3) & 0xff);
    if (rdv->shared_blob() != blob) return "the shared blob is not rank 0's";
    if (rdv->ranks().size() != size_t(world)) return fmt::format("{} rows in the rank table", rdv->ranks().size());
    for (int r = 0; r < world; ++r)
      if (rdv->ranks()[size_t(r)].rank != r || rdv->ranks()[size_t(r)].address != "127.0.0.1")
        return fmt::format("row {} of the rank table is rank {} at {}", r, rdv->ranks()[size_t(r)].rank,
                           rdv->ranks()[size_t(r)].address);
    if (rdv->ranks()[size_t(rank)].pid != int(getpid())) return "my row has another pid";
    // The store: each rank sets its key, reads its neighbour's (set by another process).
    const std::string mine = fmt::format("value of {}", rank);
    rdv->set(fmt::format("key{}", rank), std::vector<char>(mine.begin(), mine.end()));
    const int next = (rank + 1) % world;
    const std::vector<char> got = rdv->get(fmt::format("key{}", next));
    if (std::string(got.begin(), got.end()) != fmt::format("value of {}", next))
      return "key" + std::to_string(next) + " reads \"" + std::string(got.begin(), got.end()) + "\"";
    std::vector<std::string> keys;
    for (int r = 0; r < world; ++r) keys.push_back(fmt::format("key{}", r));
    rdv->wait(keys, std::chrono::milliseconds(5000));
    return "";
  });
  for (const RankRun& r : runs) EXPECT_TRUE(r.ok()) << "rank " << r.rank << ": " << r.message;
}

}  // namespace

TEST(Rendezvous, TwoRanks) { join_and_check(2); }
TEST(Rendezvous, FourRanks) { join_and_check(4); }
TEST(Rendezvous, EightRanks) { join_and_check(8); }

TEST(Rendezvous, WorldOfOneNeedsNoServer) {
  RendezvousOptions options;
  options.shared_blob = "id";
  // Port 1 is never listened on here: a server or a connection would fail.
  auto rdv = Rendezvous::join(local_rank_env(0, 1, 1), options);
  EXPECT_EQ(rdv->shared_blob(), "id");
  ASSERT_EQ(rdv->ranks().size(), 1u);
  rdv->set("k", {'v'});
  EXPECT_EQ(rdv->get("k"), std::vector<char>{'v'});
  EXPECT_THROW(rdv->get("absent"), RuntimeFailure);
}

TEST(Rendezvous, DifferentConfigurationIsRefusedNamingTheField) {
  const int port = pick_free_port();
  const auto runs = run_ranks(all_ranks(4), [&](int rank) -> std::string {
    RendezvousOptions options;
    options.config = config(rank == 3 ? 512 : 4096);
    options.timeout_s = 10;
    Rendezvous::join(local_rank_env(rank, 4, port), options);
    return "joined";
  });
  expect_all_failed_with(runs, "InputError: rank 3 runs a different configuration: num_tokens 512 vs 4096 on rank 0", 8);
}

TEST(Rendezvous, DifferentRankCountIsRefused) {
  const int port = pick_free_port();
  const auto runs = run_ranks(all_ranks(2), [&](int rank) -> std::string {
    RendezvousOptions options;
    options.timeout_s = 10;
    Rendezvous::join(local_rank_env(rank, rank == 1 ? 3 : 2, port), options);
    return "joined";
  });
  expect_all_failed_with(runs, "InputError: rank 1 runs with 3 ranks, rank 0 with 2", 8);
}

TEST(Rendezvous, ConfigDifferenceNamesNestedAndAbsentFields) {
  EXPECT_EQ(config_difference(config(1), config(1)), std::nullopt);
  EXPECT_EQ(config_difference({{"a", {{"b", 2}}}}, {{"a", {{"b", 3}}}}), "a.b 2 vs 3");
  EXPECT_EQ(config_difference({{"impl", {"ep"}}}, {{"impl", {"ep", "tp"}}}), "impl[1] (absent) vs tp");
  EXPECT_EQ(config_difference({{"dtype", "fp8"}}, {{"dtype", "bf16"}}), "dtype fp8 vs bf16");
}

TEST(Rendezvous, RankThatNeverArrivesTimesOut) {
  const int port = pick_free_port();
  // Ranks 0 and 1 of 3: rank 2 never starts.
  const auto runs = run_ranks({0, 1}, [&](int rank) -> std::string {
    RendezvousOptions options;
    options.timeout_s = 1;
    Rendezvous::join(local_rank_env(rank, 3, port), options);
    return "joined";
  });
  expect_all_failed_with(runs, "RuntimeFailure(Timeout): rank(s) 2 never arrived at the rendezvous at 127.0.0.1:", 4);
}

TEST(Rendezvous, RankZeroThatNeverArrivesTimesOut) {
  const int port = pick_free_port();
  RendezvousOptions options;
  options.timeout_s = 0.5;
  try {
    Rendezvous::join(local_rank_env(1, 2, port), options);
    FAIL() << "joined without rank 0";
  } catch (const RuntimeFailure& e) {
    EXPECT_EQ(e.kind(), FailureKind::Timeout);
    EXPECT_NE(std::string(e.what()).find("rank 1 could not reach rank 0's rendezvous at 127.0.0.1:"), std::string::npos)
        << e.what();
  }
}

TEST(Rendezvous, RankThatDiesAfterArrivingFailsTheOthers) {
  const int port = pick_free_port();
  // Rank 0 of 3 waits (timeout 10 s) for rank 1, which is late; rank 2 arrives, then is killed:
  // rank 0 must fail at once, not at the timeout.
  const auto runs = run_ranks({0, 2}, [&](int rank) -> std::string {
    if (rank == 2) {
      Socket s = connect_until("127.0.0.1", port, Clock::now() + std::chrono::seconds(5), "--dist-init-addr");
      send_frame(s.fd(), {{"op", "hello"}, {"rank", 2}, {"world_size", 3}, {"config", config(4096)}});
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      raise(SIGKILL);
    }
    RendezvousOptions options;
    options.config = config(4096);
    options.timeout_s = 10;
    Rendezvous::join(local_rank_env(rank, 3, port), options);
    return "joined";
  });
  EXPECT_EQ(runs[1].signal, SIGKILL);
  expect_all_failed_with({runs[0]}, "RuntimeFailure(Crash): rank 2 left the rendezvous at 127.0.0.1:", 5);
}

TEST(Rendezvous, PortInUseNamesTheFlag) {
  const int port = pick_free_port();
  Socket holder = listen_on("127.0.0.1", port, "test");
  RendezvousOptions options;
  options.timeout_s = 1;
  try {
    Rendezvous::join(local_rank_env(0, 2, port), options);
    FAIL() << "listened on a port in use";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(fmt::format("--dist-init-addr 127.0.0.1:{}: port {} is already in use", port, port)),
              std::string::npos)
        << e.what();
  }
}
