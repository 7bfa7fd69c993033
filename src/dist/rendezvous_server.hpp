#pragma once
// Global rank 0's side of the rendezvous (dist/rendezvous.hpp), on a thread of rank 0's process.
// Phase 1: accepts one connection per rank, each saying hello with its rank, world size, host and
// configuration fingerprint; when all have arrived and every configuration matches rank 0's it
// welcomes them all with the shared blob and the rank table, otherwise it sends every rank the
// same one-line error (a differing field, a rank that never arrived within the timeout, a rank
// that left), also to a rank that connects after the failure, until it is stopped. Phase 2: serves the key-value store (set / get / wait, a get or wait answered once
// its keys are set) until every rank has hung up, or until its owner stops it.
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "dist/tcp_socket.hpp"

namespace moebench {

class RendezvousServer {
 public:
  // `listener` listens at `addr` (named in messages) for `world_size` ranks.
  RendezvousServer(Socket listener, std::string addr, int world_size, std::string shared_blob, double timeout_s);
  ~RendezvousServer();  // stops at once: call finish() first for an orderly end
  // Lets the ranks still connected hang up first, for at most `grace_s`, then stops.
  void finish(double grace_s);

 private:
  struct Connection {
    Socket socket;
    std::string buffer;
    int rank = -1;  // -1 until its hello
    nlohmann::json hello;
    std::vector<nlohmann::json> pending;  // store requests waiting for keys
  };
  void run();
  void accept_one();
  void handle(Connection& c, const nlohmann::json& message);  // may fail the run (failed_, error sent)
  bool all_arrived() const;
  void welcome_or_refuse();
  void fail(const std::string& kind, const std::string& message);
  void refuse_late_ranks();  // after a failure, until finish()
  void serve_pending();
  bool answer(Connection& c, const nlohmann::json& request);  // true when answered (its keys are set)

  Socket listener_;
  std::string addr_;
  int world_size_;
  std::string shared_blob_;
  double timeout_s_;
  Socket wake_read_, wake_write_;
  std::vector<Connection> connections_;
  std::map<std::string, std::vector<uint8_t>> store_;
  bool welcomed_ = false;
  bool failed_ = false;
  nlohmann::json failure_;  // the error every rank got
  std::atomic<bool> finishing_{false};
  std::atomic<double> finish_grace_s_{0};
  std::thread thread_;
};

}  // namespace moebench
