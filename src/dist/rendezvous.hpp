#pragma once
// The run's rendezvous (DESIGN.md "Process model"): every rank connects over TCP to global rank 0
// (which serves at RankEnv's init address, dist/rendezvous_server.hpp), sends its configuration
// fingerprint, and receives the shared blob (NCCL's unique id, made by rank 0) and the rank table
// once every rank has arrived with rank 0's configuration. The same connection then carries a
// small key-value store (set / get / wait, the shape of Gloo's rendezvous::Store) through which a
// collective library's ranks find each other. Nothing else goes through it: the collectives run
// on Gloo or NCCL.
//
// Failures are one line each, on every rank: a differing configuration is an InputError naming
// the field ("rank 3 runs a different configuration: num_tokens 512 vs 4096 on rank 0"); a rank
// that never arrives, or a rank 0 that cannot be reached, a RuntimeFailure(Timeout) within the
// timeout; a rank that leaves early, or a rank 0 that goes away, a RuntimeFailure(Crash); a port
// already in use an InputError naming --dist-init-addr.
//
// A world of one rank needs no server: join() returns at once, with the blob it was given and a
// store of its own.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dist/rank_env.hpp"
#include "dist/tcp_socket.hpp"

namespace moebench {

class RendezvousServer;

struct RendezvousOptions {
  nlohmann::json config = nlohmann::json::object();  // this rank's configuration fingerprint
  std::string shared_blob;   // rank 0's is handed to every rank; the others' are ignored
  double timeout_s = kDefaultDistTimeout_s;  // for every rank to arrive, and for each store request
};

struct RankInfo {
  int rank = 0;
  std::string host;     // gethostname()
  std::string address;  // the address its connection to rank 0 came from: how peers reach it
  int pid = 0;
};

class Rendezvous {
 public:
  // Joins the run described by `env` (rank 0 serves; everyone connects). Blocks until every rank
  // has arrived, or throws as the header says.
  static std::unique_ptr<Rendezvous> join(const RankEnv& env, const RendezvousOptions& options);
  // Rank 0's waits (at most the timeout) for the other ranks to hang up first: destroy it on every
  // rank at the same point, e.g. once the communicator is made (a collective step, which every
  // rank leaves together; no communicator needs the store afterwards).
  ~Rendezvous();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  const std::string& shared_blob() const { return shared_blob_; }
  const std::vector<RankInfo>& ranks() const { return ranks_; }
  const std::string& local_address() const { return ranks_[size_t(rank_)].address; }
  double timeout_s() const { return timeout_s_; }

  // The store. A key is set once; get() and wait() block until their keys are set, and throw
  // RuntimeFailure(Timeout) naming the key after the timeout (the rendezvous's, or the one given).
  void set(const std::string& key, const std::vector<char>& value);
  std::vector<char> get(const std::string& key);
  void wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout);

 private:
  Rendezvous() = default;
  nlohmann::json request(const nlohmann::json& message, std::chrono::milliseconds timeout, const std::string& what);

  int rank_ = 0;
  int world_size_ = 1;
  double timeout_s_ = kDefaultDistTimeout_s;
  std::string addr_;
  std::string shared_blob_;
  std::vector<RankInfo> ranks_;
  std::unique_ptr<RendezvousServer> server_;  // rank 0's, when the world has more than one rank
  Socket socket_;
  std::string buffer_;
  std::mutex mutex_;  // one request at a time on the connection
  std::map<std::string, std::vector<char>> local_store_;  // a world of one
};

}  // namespace moebench
