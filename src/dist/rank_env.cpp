#include "dist/rank_env.hpp"

#include <unistd.h>

#include <charconv>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace {

// The port a launcher with no address of its own uses when all ranks share one node (torchrun's
// default too): the ranks must agree on it without having talked yet.
constexpr int kDefaultSingleNodePort = 29500;

const std::string* find(const EnvMap& env, const std::string& name) {
  const auto it = env.find(name);
  return it == env.end() ? nullptr : &it->second;
}

int parse_int(const std::string& text, const std::string& what, const std::string& fix) {
  int value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty())
    throw InputError(fmt::format("{} (\"{}\") is not a whole number: {}", what, text, fix));
  return value;
}

int env_int(const EnvMap& env, const std::string& name, const char* launcher) {
  const std::string* text = find(env, name);
  if (!text) throw InputError(fmt::format("{} is not set: {} sets it for every rank; start moebench through {}",
                                          name, launcher, launcher));
  return parse_int(*text, name, fmt::format("{} sets it for every rank", launcher));
}

// Slurm's SLURM_STEP_TASKS_PER_NODE: "4(x2),3" -> {4, 4, 3}.
std::vector<int> expand_tasks_per_node(const std::string& text) {
  std::vector<int> counts;
  size_t at = 0;
  const std::string fix = "srun sets it as COUNT[(xREPEAT)],...";
  while (at < text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    const size_t paren = item.find("(x");
    const int count = parse_int(item.substr(0, paren), "SLURM_STEP_TASKS_PER_NODE", fix);
    int repeat = 1;
    if (paren != std::string::npos) {
      if (item.back() != ')') throw InputError(fmt::format("SLURM_STEP_TASKS_PER_NODE (\"{}\") is malformed: {}", text, fix));
      repeat = parse_int(item.substr(paren + 2, item.size() - paren - 3), "SLURM_STEP_TASKS_PER_NODE", fix);
    }
    counts.insert(counts.end(), size_t(std::max(repeat, 0)), count);
    at = comma + 1;
  }
  return counts;
}

RankEnv from_moebench(const EnvMap& env) {
  const char* who = "moebench's launcher";
  RankEnv r;
  r.source = RankSource::moebench;
  r.rank = env_int(env, "MOEBENCH_RANK", who);
  r.world_size = env_int(env, "MOEBENCH_WORLD_SIZE", who);
  r.local_rank = env_int(env, "MOEBENCH_LOCAL_RANK", who);
  r.local_world_size = env_int(env, "MOEBENCH_LOCAL_WORLD_SIZE", who);
  r.node_rank = env_int(env, "MOEBENCH_NODE_RANK", who);
  r.nnodes = env_int(env, "MOEBENCH_NNODES", who);
  const std::string* addr = find(env, "MOEBENCH_DIST_INIT_ADDR");
  if (!addr) throw InputError("MOEBENCH_DIST_INIT_ADDR is not set: moebench's launcher sets it for every rank");
  std::tie(r.init_host, r.init_port) = parse_host_port(*addr, "MOEBENCH_DIST_INIT_ADDR");
  return r;
}

RankEnv from_torchrun(const EnvMap& env) {
  RankEnv r;
  r.source = RankSource::torchrun;
  r.rank = env_int(env, "RANK", "torchrun");
  r.world_size = env_int(env, "WORLD_SIZE", "torchrun");
  r.local_rank = find(env, "LOCAL_RANK") ? env_int(env, "LOCAL_RANK", "torchrun") : 0;
  r.local_world_size = find(env, "LOCAL_WORLD_SIZE") ? env_int(env, "LOCAL_WORLD_SIZE", "torchrun") : 1;
  if (r.local_world_size > 0) {
    r.node_rank = find(env, "GROUP_RANK") ? env_int(env, "GROUP_RANK", "torchrun") : r.rank / r.local_world_size;
    r.nnodes = (r.world_size + r.local_world_size - 1) / r.local_world_size;
  }
  return r;
}

RankEnv from_openmpi(const EnvMap& env) {
  RankEnv r;
  r.source = RankSource::openmpi;
  r.rank = env_int(env, "OMPI_COMM_WORLD_RANK", "mpirun");
  r.world_size = env_int(env, "OMPI_COMM_WORLD_SIZE", "mpirun");
  r.local_rank = env_int(env, "OMPI_COMM_WORLD_LOCAL_RANK", "mpirun");
  r.local_world_size = env_int(env, "OMPI_COMM_WORLD_LOCAL_SIZE", "mpirun");
  if (r.local_world_size > 0) {  // Open MPI numbers no nodes: ranks are taken as placed node by node
    r.node_rank = r.rank / r.local_world_size;
    r.nnodes = (r.world_size + r.local_world_size - 1) / r.local_world_size;
  }
  return r;
}

RankEnv from_slurm(const EnvMap& env) {
  RankEnv r;
  r.source = RankSource::slurm;
  r.rank = env_int(env, "SLURM_PROCID", "srun");
  r.world_size = env_int(env, "SLURM_NTASKS", "srun");
  r.local_rank = find(env, "SLURM_LOCALID") ? env_int(env, "SLURM_LOCALID", "srun") : 0;
  r.node_rank = find(env, "SLURM_NODEID") ? env_int(env, "SLURM_NODEID", "srun") : 0;
  if (const std::string* per_node = find(env, "SLURM_NTASKS_PER_NODE")) {
    r.local_world_size = parse_int(*per_node, "SLURM_NTASKS_PER_NODE", "srun --ntasks-per-node sets it");
  } else if (const std::string* step = find(env, "SLURM_STEP_TASKS_PER_NODE")) {
    const std::vector<int> counts = expand_tasks_per_node(*step);
    if (counts.empty() || size_t(r.node_rank) >= counts.size())
      throw InputError(fmt::format("SLURM_STEP_TASKS_PER_NODE (\"{}\") names no count for node {} (SLURM_NODEID)",
                                   *step, r.node_rank));
    r.local_world_size = counts[size_t(r.node_rank)];
  } else {
    r.local_world_size = r.world_size;  // no per-node count: one node
  }
  if (find(env, "SLURM_NNODES")) r.nnodes = env_int(env, "SLURM_NNODES", "srun");
  else if (r.local_world_size > 0) r.nnodes = (r.world_size + r.local_world_size - 1) / r.local_world_size;
  if (!find(env, "SLURM_NODEID") && r.local_world_size > 0) r.node_rank = r.rank / r.local_world_size;
  return r;
}

RankEnv from_flags(const DistRequest& request) {
  if (request.nnodes < 1) throw InputError(fmt::format("--nnodes ({}) must be at least 1", request.nnodes));
  if (request.node_rank < 0 || request.node_rank >= request.nnodes)
    throw InputError(fmt::format("--node-rank ({}) must be below --nnodes ({}): number the nodes 0 to {}",
                                 request.node_rank, request.nnodes, request.nnodes - 1));
  if (request.world_size % request.nnodes != 0)
    throw InputError(fmt::format("{} ({}) must be divisible by --nnodes ({}): every node runs the same number of ranks",
                                 request.size_flag, request.world_size, request.nnodes));
  RankEnv r;
  r.source = RankSource::flags;
  r.world_size = request.world_size;
  r.nnodes = request.nnodes;
  r.node_rank = request.node_rank;
  r.local_world_size = request.world_size / request.nnodes;
  r.rank = r.node_rank * r.local_world_size;
  if (!request.dist_init_addr.empty()) {
    std::tie(r.init_host, r.init_port) = parse_host_port(request.dist_init_addr, "--dist-init-addr");
  } else if (r.nnodes > 1) {
    throw InputError(fmt::format("--nnodes {} needs --dist-init-addr HOST:PORT: node 0's address and a free port, "
                                 "the same on every node", r.nnodes));
  }
  return r;
}

// The rendezvous address under an outside launcher: the flag, else MASTER_ADDR/MASTER_PORT, else
// a default port on 127.0.0.1 when every rank is on this node.
void outside_launcher_address(RankEnv& r, const EnvMap& env, const DistRequest& request) {
  if (!request.dist_init_addr.empty()) {
    std::tie(r.init_host, r.init_port) = parse_host_port(request.dist_init_addr, "--dist-init-addr");
  } else if (find(env, "MASTER_ADDR") && find(env, "MASTER_PORT")) {
    r.init_host = *find(env, "MASTER_ADDR");
    r.init_port = parse_int(*find(env, "MASTER_PORT"), "MASTER_PORT", "set it to a free port on rank 0's host");
  } else if (r.local_world_size == r.world_size) {
    r.init_host = "127.0.0.1";
    r.init_port = kDefaultSingleNodePort;
  } else if (r.world_size > 1) {
    throw InputError(fmt::format("--dist-init-addr HOST:PORT is needed under {} across nodes: rank 0's host and a "
                                 "free port (or set MASTER_ADDR and MASTER_PORT)", rank_source_name(r.source)));
  }
}

void check_ranks(const RankEnv& r) {
  const char* who = rank_source_name(r.source);
  if (r.world_size < 1 || r.rank < 0 || r.rank >= r.world_size)
    throw InputError(fmt::format("{} gave rank {} of a world of {}: a rank must lie in 0..world size - 1", who, r.rank,
                                 r.world_size));
  if (r.local_world_size < 1 || r.local_rank < 0 || r.local_rank >= r.local_world_size)
    throw InputError(fmt::format("{} gave local rank {} of {} on this node: a local rank must lie in 0..{} - 1", who,
                                 r.local_rank, r.local_world_size, r.local_world_size));
  if (r.nnodes < 1 || r.node_rank < 0 || r.node_rank >= r.nnodes)
    throw InputError(fmt::format("{} gave node {} of {} nodes: a node rank must lie in 0..nodes - 1", who,
                                 r.node_rank, r.nnodes));
}

}  // namespace

EnvMap current_environment() {
  EnvMap env;
  for (char** entry = environ; *entry; ++entry) {
    const std::string text(*entry);
    const size_t eq = text.find('=');
    if (eq != std::string::npos) env.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return env;
}

const char* rank_source_name(RankSource source) {
  switch (source) {
    case RankSource::flags: return "the command line";
    case RankSource::moebench: return "moebench's launcher";
    case RankSource::torchrun: return "torchrun";
    case RankSource::openmpi: return "mpirun";
    case RankSource::slurm: return "srun";
  }
  return "the command line";
}

std::string RankEnv::init_addr() const {
  return init_host.find(':') != std::string::npos ? fmt::format("[{}]:{}", init_host, init_port)
                                                  : fmt::format("{}:{}", init_host, init_port);
}

std::pair<std::string, int> parse_host_port(const std::string& text, const std::string& flag) {
  const std::string fix = fmt::format("give {} as HOST:PORT, e.g. 10.0.0.1:29500", flag);
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw InputError(fmt::format("{} (\"{}\") is not HOST:PORT: {}", flag, text, fix));
  std::string host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const int port = parse_int(text.substr(colon + 1), flag + "'s port", fix);
  if (port < 1 || port > 65535 || host.empty())
    throw InputError(fmt::format("{} (\"{}\"): the port must lie in 1..65535 and the host be named: {}", flag, text, fix));
  return {host, port};
}

RankEnv resolve_rank_env(const EnvMap& env, const DistRequest& request) {
  if (request.world_size < 1)
    throw InputError(fmt::format("{} ({}) must be at least 1", request.size_flag, request.world_size));
  RankEnv r;
  if (find(env, "MOEBENCH_RANK")) r = from_moebench(env);
  else if (find(env, "RANK") && find(env, "WORLD_SIZE")) r = from_torchrun(env);
  else if (find(env, "OMPI_COMM_WORLD_RANK")) r = from_openmpi(env);
  else if (find(env, "SLURM_PROCID") && find(env, "SLURM_NTASKS")) r = from_slurm(env);
  else r = from_flags(request);
  check_ranks(r);

  if (r.source != RankSource::flags && r.source != RankSource::moebench) {
    if (r.world_size != request.world_size)
      throw InputError(fmt::format("{} started {} ranks but {} asks for {}: start {} ranks, or set {} to {}",
                                   rank_source_name(r.source), r.world_size, request.size_flag, request.world_size,
                                   request.world_size, request.size_flag, r.world_size));
    outside_launcher_address(r, env, request);
  }
  if (request.visible_gpus >= 0 && r.local_world_size > request.visible_gpus) {
    std::string name = request.size_flag.substr(request.size_flag.find_first_not_of('-'));
    for (char& c : name) c = c == '-' ? '_' : c;
    throw InputError(fmt::format("{} ({} ranks on this node) exceeds device count ({} GPU(s) visible): lower {} or "
                                 "spread the ranks over more nodes with --nnodes",
                                 name, r.local_world_size, request.visible_gpus, request.size_flag));
  }
  return r;
}

std::vector<std::pair<std::string, std::string>> rank_variables(const RankEnv& node, int local_rank) {
  return {{"MOEBENCH_RANK", std::to_string(node.node_rank * node.local_world_size + local_rank)},
          {"MOEBENCH_WORLD_SIZE", std::to_string(node.world_size)},
          {"MOEBENCH_LOCAL_RANK", std::to_string(local_rank)},
          {"MOEBENCH_LOCAL_WORLD_SIZE", std::to_string(node.local_world_size)},
          {"MOEBENCH_NODE_RANK", std::to_string(node.node_rank)},
          {"MOEBENCH_NNODES", std::to_string(node.nnodes)},
          {"MOEBENCH_DIST_INIT_ADDR", node.init_addr()}};
}

}  // namespace moebench
