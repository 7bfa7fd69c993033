#pragma once
// Who this process is among the ranks of a run (DESIGN.md "Process model"): its global and local
// rank, the world and node sizes, and where global rank 0's rendezvous listens. Read from the
// variables of whichever launcher started it (moebench's own, torchrun, Open MPI's mpirun, Slurm's
// srun) or, when none did, from the --nnodes/--node-rank/--dist-init-addr flags and the number of
// ranks the run asks for. Pure functions over an environment map, so that every launcher's
// variables are unit-tested without being that launcher.
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace moebench {

using EnvMap = std::map<std::string, std::string>;

// This process's environment (environ) as a map.
EnvMap current_environment();

// Which launcher the rank variables came from.
enum class RankSource {
  flags,      // no launcher: the command line's flags (this process starts the node's ranks, if more than one)
  moebench,   // a child started by moebench's own launcher (dist/launcher.hpp)
  torchrun,   // RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT
  openmpi,    // OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE
  slurm,      // SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE / SLURM_STEP_TASKS_PER_NODE
};
const char* rank_source_name(RankSource source);

// How long a rank waits for its peers unless told otherwise (`layer --dist-timeout`): at the
// rendezvous (dist/rendezvous.hpp), and in each collective (the communicators take the
// rendezvous's timeout).
inline constexpr double kDefaultDistTimeout_s = 60;

// What the command line asks for.
struct DistRequest {
  int world_size = 1;                 // ranks the run needs in all (e.g. the larger of --tp-size, --ep-size)
  std::string size_flag = "--tp-size";  // the flag that set world_size, named in errors
  int nnodes = 1;                     // --nnodes
  int node_rank = 0;                  // --node-rank
  std::string dist_init_addr;         // --dist-init-addr HOST:PORT; empty: not given
  int visible_gpus = -1;              // GPUs this process sees when the ranks run on GPUs; -1 on CPU ranks
};

struct RankEnv {
  RankSource source = RankSource::flags;
  int rank = 0;  // global; for a node's launcher (launches_local_ranks()), its first rank
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;  // ranks on this node
  int node_rank = 0;
  int nnodes = 1;
  // Global rank 0's rendezvous. Empty host: none chosen yet (a single node's launcher picks
  // 127.0.0.1 and a free port for its children).
  std::string init_host;
  int init_port = 0;

  // True for the process the user started on a node that must run several ranks itself: it starts
  // them (dist/launcher.hpp) instead of running one.
  bool launches_local_ranks() const { return source == RankSource::flags && local_world_size > 1; }
  std::string init_addr() const;  // "HOST:PORT"
};

// Resolves who this process is. Throws InputError (one line naming the flag and the fix) on
// inconsistent input: --node-rank >= --nnodes, a world size not divisible by --nnodes, more ranks
// on a node than GPUs visible, a launcher whose world size is not the one the run asks for, a
// multi-node run without --dist-init-addr, a malformed HOST:PORT or launcher variable.
RankEnv resolve_rank_env(const EnvMap& env, const DistRequest& request);

// The variables moebench's launcher gives local rank `local_rank` of the node `node` describes
// (node.launches_local_ranks(), with its rendezvous address chosen): read back by resolve_rank_env
// as RankSource::moebench.
std::vector<std::pair<std::string, std::string>> rank_variables(const RankEnv& node, int local_rank);

// "HOST:PORT" (HOST may be a name, an IPv4 address or a bracketed IPv6 one) -> {HOST, PORT};
// InputError naming `flag` when it is not one.
std::pair<std::string, int> parse_host_port(const std::string& text, const std::string& flag);

}  // namespace moebench
