// Who a process is among the ranks (dist/rank_env.hpp): each launcher's variables, moebench's own
// launcher's round trip, the flags, and every inconsistency refused with a line naming the flag.
#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "dist/rank_env.hpp"

using namespace moebench;

namespace {

DistRequest ranks(int world_size) {
  DistRequest r;
  r.world_size = world_size;
  return r;
}

// The InputError's line, or "" when none was thrown.
std::string input_error(const EnvMap& env, const DistRequest& request) {
  try {
    resolve_rank_env(env, request);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(RankEnv, TorchrunVariables) {
  const EnvMap env = {{"RANK", "5"},          {"WORLD_SIZE", "8"},         {"LOCAL_RANK", "1"},
                      {"LOCAL_WORLD_SIZE", "4"}, {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29501"}};
  const RankEnv r = resolve_rank_env(env, ranks(8));
  EXPECT_EQ(r.source, RankSource::torchrun);
  EXPECT_EQ(r.rank, 5);
  EXPECT_EQ(r.world_size, 8);
  EXPECT_EQ(r.local_rank, 1);
  EXPECT_EQ(r.local_world_size, 4);
  EXPECT_EQ(r.node_rank, 1);
  EXPECT_EQ(r.nnodes, 2);
  EXPECT_EQ(r.init_addr(), "10.0.0.1:29501");
  EXPECT_FALSE(r.launches_local_ranks());
}

TEST(RankEnv, TorchrunWorldMustBeTheRequestedOne) {
  const EnvMap env = {{"RANK", "0"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}};
  const std::string line = input_error(env, ranks(8));
  EXPECT_NE(line.find("torchrun started 4 ranks but --tp-size asks for 8"), std::string::npos) << line;
}

TEST(RankEnv, OpenMpiVariablesOnOneNodeNeedNoAddress) {
  const EnvMap env = {{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "4"},
                      {"OMPI_COMM_WORLD_LOCAL_RANK", "3"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}};
  const RankEnv r = resolve_rank_env(env, ranks(4));
  EXPECT_EQ(r.source, RankSource::openmpi);
  EXPECT_EQ(r.rank, 3);
  EXPECT_EQ(r.local_rank, 3);
  EXPECT_EQ(r.nnodes, 1);
  EXPECT_EQ(r.init_addr(), "127.0.0.1:29500");
}

TEST(RankEnv, OpenMpiAcrossNodesTakesTheFlagOrRefuses) {
  const EnvMap env = {{"OMPI_COMM_WORLD_RANK", "6"}, {"OMPI_COMM_WORLD_SIZE", "8"},
                      {"OMPI_COMM_WORLD_LOCAL_RANK", "2"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}};
  EXPECT_NE(input_error(env, ranks(8)).find("--dist-init-addr HOST:PORT is needed under mpirun"), std::string::npos);
  DistRequest request = ranks(8);
  request.dist_init_addr = "node0.cluster:29600";
  const RankEnv r = resolve_rank_env(env, request);
  EXPECT_EQ(r.node_rank, 1);
  EXPECT_EQ(r.nnodes, 2);
  EXPECT_EQ(r.init_host, "node0.cluster");
  EXPECT_EQ(r.init_port, 29600);
}

TEST(RankEnv, SlurmStepTasksPerNode) {
  EnvMap env = {{"SLURM_PROCID", "6"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "2"},
                {"SLURM_NODEID", "1"}, {"SLURM_STEP_TASKS_PER_NODE", "4(x2)"},
                {"MASTER_ADDR", "n0"}, {"MASTER_PORT", "29400"}};
  RankEnv r = resolve_rank_env(env, ranks(8));
  EXPECT_EQ(r.source, RankSource::slurm);
  EXPECT_EQ(r.rank, 6);
  EXPECT_EQ(r.local_rank, 2);
  EXPECT_EQ(r.local_world_size, 4);
  EXPECT_EQ(r.node_rank, 1);
  EXPECT_EQ(r.nnodes, 2);
  EXPECT_EQ(r.init_addr(), "n0:29400");
  // Uneven nodes: the count of this node.
  env["SLURM_STEP_TASKS_PER_NODE"] = "3,5";
  env["SLURM_PROCID"] = "7";
  env["SLURM_LOCALID"] = "4";
  r = resolve_rank_env(env, ranks(8));
  EXPECT_EQ(r.local_world_size, 5);
}

TEST(RankEnv, SlurmNtasksPerNode) {
  const EnvMap env = {{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "1"},
                      {"SLURM_NTASKS_PER_NODE", "2"}};
  const RankEnv r = resolve_rank_env(env, ranks(2));
  EXPECT_EQ(r.local_world_size, 2);
  EXPECT_EQ(r.node_rank, 0);
  EXPECT_EQ(r.init_addr(), "127.0.0.1:29500");
}

TEST(RankEnv, MalformedLauncherVariableIsNamed) {
  const EnvMap env = {{"RANK", "two"}, {"WORLD_SIZE", "4"}};
  EXPECT_NE(input_error(env, ranks(4)).find("RANK (\"two\") is not a whole number"), std::string::npos);
  const EnvMap out_of_range = {{"RANK", "4"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}};
  EXPECT_NE(input_error(out_of_range, ranks(4)).find("torchrun gave rank 4 of a world of 4"), std::string::npos);
}

TEST(RankEnv, FlagsOnOneNodeLaunchTheLocalRanks) {
  const RankEnv node = resolve_rank_env({}, ranks(4));
  EXPECT_EQ(node.source, RankSource::flags);
  EXPECT_TRUE(node.launches_local_ranks());
  EXPECT_EQ(node.local_world_size, 4);
  EXPECT_TRUE(node.init_host.empty());  // the launcher picks a port
  const RankEnv single = resolve_rank_env({}, ranks(1));
  EXPECT_FALSE(single.launches_local_ranks());
  EXPECT_EQ(single.world_size, 1);
}

TEST(RankEnv, FlagsAcrossNodesAndTheLauncherRoundTrip) {
  DistRequest request = ranks(8);
  request.nnodes = 2;
  request.node_rank = 1;
  request.dist_init_addr = "[fe80::1]:29555";
  const RankEnv node = resolve_rank_env({}, request);
  EXPECT_TRUE(node.launches_local_ranks());
  EXPECT_EQ(node.rank, 4);
  EXPECT_EQ(node.init_host, "fe80::1");
  EXPECT_EQ(node.init_addr(), "[fe80::1]:29555");

  EnvMap child;
  for (const auto& [name, value] : rank_variables(node, 3)) child[name] = value;
  const RankEnv r = resolve_rank_env(child, request);
  EXPECT_EQ(r.source, RankSource::moebench);
  EXPECT_FALSE(r.launches_local_ranks());
  EXPECT_EQ(r.rank, 7);
  EXPECT_EQ(r.local_rank, 3);
  EXPECT_EQ(r.local_world_size, 4);
  EXPECT_EQ(r.node_rank, 1);
  EXPECT_EQ(r.nnodes, 2);
  EXPECT_EQ(r.init_host, "fe80::1");
  EXPECT_EQ(r.init_port, 29555);
}

TEST(RankEnv, InconsistentFlagsAreRefusedNamingTheFlag) {
  DistRequest request = ranks(8);
  request.nnodes = 2;
  request.node_rank = 2;
  request.dist_init_addr = "h:1";
  EXPECT_NE(input_error({}, request).find("--node-rank (2) must be below --nnodes (2)"), std::string::npos);

  request = ranks(6);
  request.nnodes = 4;
  request.dist_init_addr = "h:1";
  EXPECT_NE(input_error({}, request).find("--tp-size (6) must be divisible by --nnodes (4)"), std::string::npos);

  request = ranks(8);
  request.nnodes = 2;
  EXPECT_NE(input_error({}, request).find("--nnodes 2 needs --dist-init-addr HOST:PORT"), std::string::npos);

  request = ranks(2);
  request.dist_init_addr = "localhost";
  EXPECT_NE(input_error({}, request).find("--dist-init-addr (\"localhost\") is not HOST:PORT"), std::string::npos);
  request.dist_init_addr = "localhost:70000";
  EXPECT_NE(input_error({}, request).find("the port must lie in 1..65535"), std::string::npos);
}

TEST(RankEnv, MoreRanksThanGpusIsRefused) {
  DistRequest request = ranks(8);
  request.visible_gpus = 4;
  const std::string line = input_error({}, request);
  EXPECT_NE(line.find("tp_size (8 ranks on this node) exceeds device count (4 GPU(s) visible)"), std::string::npos) << line;
  request.size_flag = "--ep-size";
  EXPECT_NE(input_error({}, request).find("ep_size (8 ranks on this node) exceeds device count"), std::string::npos);
  request.visible_gpus = 8;
  EXPECT_EQ(input_error({}, request), "");
  request.visible_gpus = -1;  // CPU ranks: no device count
  request.world_size = 64;
  EXPECT_EQ(input_error({}, request), "");
}
