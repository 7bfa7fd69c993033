// What the multi-rank jobs share (rank_job.hpp): rank resolution, the node's launcher and its
// failure files, the rendezvous and the communicator.
#include "bench/rank_job.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "core/subprocess.hpp"
#include "core/test_fault.hpp"
#include "dist/launcher.hpp"
#include "dist/rendezvous.hpp"
#ifdef MOEBENCH_WITH_CUDA
#include "backend/cuda_backend.hpp"
#include "dist/nccl_communicator.hpp"
#endif

namespace moebench {

namespace {

// Where moebench's launcher asks its ranks to leave the kind and line of their failure, so that
// it records the first failure as the rank saw it (a rank that died of a signal leaves nothing:
// Crash), and says a rank's bad input once for the node.
constexpr const char* kFailureDirVariable = "MOEBENCH_RANK_FAILURE_DIR";
constexpr const char* kInputErrorName = "InputError";

FailureKind failure_kind_named(const std::string& name) {
  for (FailureKind kind : {FailureKind::OOM, FailureKind::Timeout, FailureKind::CudaError, FailureKind::NcclError,
                           FailureKind::InvalidConfig, FailureKind::VerificationFailed})
    if (name == failure_kind_name(kind)) return kind;
  return FailureKind::Crash;
}

// What a rank left for its launcher (leave_rank_failure, leave_rank_input_error): its failure's
// kind name and line (no kind when the rank died before writing one); nothing when it left no
// file.
struct RankSaid {
  std::optional<std::string> kind;
  std::string line;
};
std::optional<RankSaid> rank_said(const std::filesystem::path& failure_dir, int rank) {
  std::ifstream in(failure_dir / std::to_string(rank));
  if (!in.is_open()) return std::nullopt;
  RankSaid said;
  if (std::string kind; std::getline(in, kind)) said.kind = kind;
  std::stringstream rest;
  rest << in.rdbuf();
  said.line = rest.str();
  return said;
}

// The GPU a local rank drives: its own, or the one it sees when a launcher gave it one.
int rank_device(const RankEnv& env) { return cuda_device_count() == 1 ? 0 : env.local_rank; }

// NCCL's unique id from global rank 0, handed to every rank by the rendezvous.
std::string shared_blob(BackendKind kind, const RankEnv& env) {
#ifdef MOEBENCH_WITH_CUDA
  if (kind == BackendKind::cuda && env.rank == 0) return nccl_unique_id();
#else
  (void)kind;
  (void)env;
#endif
  return "";
}

}  // namespace

BackendKind resolved_backend_kind(const std::string& backend) {
  const BackendKind kind = parse_backend_kind(backend);
  if (kind != BackendKind::automatic) return kind;
  return cuda_available() ? BackendKind::cuda : BackendKind::cpu;
}

RankEnv resolve_run_ranks(BackendKind kind, int world_size, int nnodes, int node_rank,
                          const std::string& dist_init_addr) {
  DistRequest request;
  request.world_size = world_size;
  request.size_flag = "--tp-size";
  request.nnodes = nnodes;
  request.node_rank = node_rank;
  request.dist_init_addr = dist_init_addr;
  RankEnv env = resolve_rank_env(current_environment(), request);
  // One GPU per local rank; a rank that sees a single GPU (srun --gpus-per-task, a launcher
  // that sets CUDA_VISIBLE_DEVICES per rank) uses that one.
  if (kind == BackendKind::cuda && (env.source == RankSource::flags || cuda_device_count() != 1)) {
    request.visible_gpus = cuda_device_count();
    env = resolve_rank_env(current_environment(), request);
  }
  return env;
}

void select_rank_device(BackendKind kind, const RankEnv& env) {
  if (kind == BackendKind::cuda) select_cuda_device(rank_device(env));
}

int launch_node_ranks(const RankEnv& node, const std::string& command,
                      const std::function<void(FailureKind, const std::string&)>& record_failure) {
  const auto failure_dir = std::filesystem::temp_directory_path() / fmt::format("moebench-ranks-{}", getpid());
  std::filesystem::create_directories(failure_dir);
  LaunchSpec spec;
  spec.node = node;
  spec.executable = self_executable();
  spec.args = self_arguments();
  spec.env = {{kFailureDirVariable, failure_dir.string()}};
  const LaunchOutcome outcome = launch_local_ranks(spec);

  FailureKind failure = outcome.kind;
  std::string message = outcome.message;
  // The cause: a rank that died of a signal of its own (not the launcher's stop), before the
  // peers whose collectives failed because it died, whichever the launcher saw end first.
  int cause = outcome.failed_rank;
  for (const RankExit& r : outcome.ranks)
    if (r.signal != 0 && r.signal != SIGTERM && !(r.stopped && r.signal == SIGKILL)) {
      cause = r.rank;
      failure = FailureKind::Crash;
      message = fmt::format("rank {} (pid {}) was killed by signal {} ({})", r.rank, r.pid, r.signal,
                            strsignal(r.signal));
      break;
    }
  const std::optional<RankSaid> said = outcome.ok ? std::nullopt : rank_said(failure_dir, cause);
  bool bad_input = false;
  if (said && said->kind) {
    failure = failure_kind_named(*said->kind);
    bad_input = said->kind == kInputErrorName;
    message = bad_input ? said->line : fmt::format("rank {}: {}", cause, said->line);
  }
  // A rank refused its input (a peer that never arrived, a port in use, another configuration, a
  // run that fits no rank): the node says it once, as its own bad input, whichever rank the
  // launcher saw leave first (a rank that refuses with the others may exit 2 before it).
  for (size_t r = 0; !bad_input && !outcome.ok && r < outcome.ranks.size(); ++r)
    if (const std::optional<RankSaid> other = rank_said(failure_dir, outcome.ranks[r].rank);
        other && other->kind == kInputErrorName) {
      bad_input = true;
      message = other->line;
    }
  std::filesystem::remove_all(failure_dir);
  if (bad_input) throw InputError(message);
  if (outcome.ok || outcome.exit_code() == 2) return outcome.exit_code();
  // Rank 0 exits 1 on its own after recording a finished run whose check failed.
  const bool recorded = cause == 0 && outcome.ranks.front().signal == 0 && !said;
  if (node.node_rank == 0 && !recorded) {
    std::fprintf(stderr, "moebench %s: %s: %s\n", command.c_str(), failure_kind_name(failure), message.c_str());
    record_failure(failure, message);
  }
  return outcome.exit_code();
}

bool leave_rank_failure(int rank, const RuntimeFailure& failure) {
  const char* dir = std::getenv(kFailureDirVariable);
  if (!dir) return false;
  std::ofstream(std::filesystem::path(dir) / std::to_string(rank)) << failure_kind_name(failure.kind()) << '\n'
                                                                    << failure.what();
  return true;
}

int leave_rank_input_error(int rank, const std::function<int()>& body) {
  const char* dir = std::getenv(kFailureDirVariable);
  try {
    return body();
  } catch (const InputError& e) {
    if (!dir) throw;
    std::ofstream(std::filesystem::path(dir) / std::to_string(rank)) << kInputErrorName << '\n' << e.what();
    return 2;
  }
}

std::unique_ptr<Communicator> join_ranks(Backend& backend, const RankEnv& env, const nlohmann::json& config,
                                         double timeout_s) {
  RendezvousOptions options;
  options.config = config;
  options.shared_blob = shared_blob(backend.kind(), env);
  options.timeout_s = timeout_s;
  // The rendezvous lives until the communicator is made: a collective step every rank leaves together.
  std::unique_ptr<Rendezvous> rendezvous;
  try {
    rendezvous = Rendezvous::join(env, options);
  } catch (const RuntimeFailure& e) {
    if (e.kind() != FailureKind::Timeout) throw;
    throw InputError(e.what());
  }
#ifdef MOEBENCH_WITH_CUDA
  if (backend.kind() == BackendKind::cuda) return make_nccl_communicator(*rendezvous, rank_device(env), cuda_stream(backend));
#endif
  return make_cpu_communicator(*rendezvous);
}

void apply_rank_test_fault(int rank) {
  const char* only = std::getenv("MOEBENCH_TEST_FAULT_RANK");
  if (only && *only && std::to_string(rank) != only) return;
  apply_test_fault();
}

}  // namespace moebench
