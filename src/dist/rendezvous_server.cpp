#include "dist/rendezvous_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "dist/config_fingerprint.hpp"

namespace moebench {

namespace {

constexpr int kPollMs = 50;

std::vector<std::string> keys_of(const nlohmann::json& request) {
  if (request.contains("keys")) return request["keys"].get<std::vector<std::string>>();
  return {request["key"].get<std::string>()};
}

}  // namespace

RendezvousServer::RendezvousServer(Socket listener, std::string addr, int world_size, std::string shared_blob,
                                   double timeout_s)
    : listener_(std::move(listener)),
      addr_(std::move(addr)),
      world_size_(world_size),
      shared_blob_(std::move(shared_blob)),
      timeout_s_(timeout_s) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    wake_read_ = Socket(fds[0]);
    wake_write_ = Socket(fds[1]);
  }
  thread_ = std::thread([this] { run(); });
}

RendezvousServer::~RendezvousServer() { finish(0); }

void RendezvousServer::finish(double grace_s) {
  if (!thread_.joinable()) return;
  finish_grace_s_ = grace_s;
  finishing_ = true;
  if (wake_write_.valid()) (void)!write(wake_write_.fd(), "x", 1);
  thread_.join();
}

bool RendezvousServer::all_arrived() const {
  return std::count_if(connections_.begin(), connections_.end(), [](const Connection& c) { return c.rank >= 0; }) ==
         world_size_;
}

void RendezvousServer::fail(const std::string& kind, const std::string& message) {
  failure_ = {{"op", "error"}, {"kind", kind}, {"message", message}};
  for (Connection& c : connections_) send_frame(c.socket.fd(), failure_);
  connections_.clear();
  failed_ = true;
}

// A rank that connects after the run failed (rank 0's own connection among them, when another
// rank's hello failed the run first) gets the same error, not a refused connection.
void RendezvousServer::refuse_late_ranks() {
  while (!finishing_) {
    pollfd fds[2] = {{listener_.fd(), POLLIN, 0}, {wake_read_.fd(), POLLIN, 0}};
    if (poll(fds, 2, kPollMs) <= 0 || !fds[0].revents) continue;
    Socket late(accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC));
    if (late.valid()) send_frame(late.fd(), failure_);
  }
}

void RendezvousServer::welcome_or_refuse() {
  std::vector<const Connection*> by_rank(size_t(world_size_), nullptr);
  for (const Connection& c : connections_) by_rank[size_t(c.rank)] = &c;
  const nlohmann::json& reference = by_rank[0]->hello["config"];
  for (int r = 1; r < world_size_; ++r)
    if (auto diff = config_difference(by_rank[size_t(r)]->hello["config"], reference))
      return fail("input", fmt::format("rank {} runs a different configuration: {} on rank 0", r, *diff));
  nlohmann::json table = nlohmann::json::array();
  for (const Connection* c : by_rank)
    table.push_back({{"rank", c->rank}, {"host", c->hello["host"]}, {"address", c->hello["address"]},
                     {"pid", c->hello["pid"]}});
  const nlohmann::json welcome = {
      {"op", "welcome"},
      {"blob", nlohmann::json::binary(std::vector<uint8_t>(shared_blob_.begin(), shared_blob_.end()))},
      {"ranks", table}};
  for (Connection& c : connections_) send_frame(c.socket.fd(), welcome);
  welcomed_ = true;
}

bool RendezvousServer::answer(Connection& c, const nlohmann::json& request) {
  const std::vector<std::string> keys = keys_of(request);
  for (const std::string& k : keys)
    if (!store_.count(k)) return false;
  nlohmann::json reply = {{"op", "ok"}};
  if (request["op"] == "get") reply["value"] = nlohmann::json::binary(store_[keys[0]]);
  send_frame(c.socket.fd(), reply);
  return true;
}

void RendezvousServer::serve_pending() {
  for (Connection& c : connections_) {
    // Requests on one connection are answered in order: stop at the first still waiting.
    while (!c.pending.empty() && answer(c, c.pending.front())) c.pending.erase(c.pending.begin());
  }
}

void RendezvousServer::handle(Connection& c, const nlohmann::json& message) {
  const std::string op = message.value("op", "");
  if (op == "hello") {
    const int rank = message.value("rank", -1);
    const int world = message.value("world_size", -1);
    if (world != world_size_) {
      return fail("input", fmt::format("rank {} runs with {} ranks, rank 0 with {}: start every rank with the same rank "
                                       "count", rank, world, world_size_));
    }
    const bool taken = std::any_of(connections_.begin(), connections_.end(),
                                   [&](const Connection& other) { return other.rank == rank; });
    if (rank < 0 || rank >= world_size_ || taken) {
      return fail("input", fmt::format("rank {} arrived {} at the rendezvous at {}: every rank must have its own number "
                                       "in 0..{}", rank, taken ? "twice" : "out of range", addr_, world_size_ - 1));
    }
    c.rank = rank;
    c.hello = message;
    return;
  }
  if (op == "set") {
    const auto& value = message["value"].get_binary();
    store_[message["key"].get<std::string>()] = std::vector<uint8_t>(value.begin(), value.end());
    send_frame(c.socket.fd(), {{"op", "ok"}});
    serve_pending();
    return;
  }
  if (op == "get" || op == "wait") {
    c.pending.push_back(message);
    serve_pending();
  }
  // Anything else is ignored: its sender times out naming what it waited for.
}

void RendezvousServer::accept_one() {
  Socket s(accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!s.valid()) return;
  if (welcomed_) return;  // the run is complete: a late connection is not one of its ranks
  Connection c;
  c.socket = std::move(s);
  connections_.push_back(std::move(c));
}

void RendezvousServer::run() {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s_));
  Clock::time_point finish_deadline = Clock::time_point::max();
  bool any_connected = false;
  while (!failed_) {
    if (finishing_ && finish_deadline == Clock::time_point::max())
      finish_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(finish_grace_s_.load()));
    if (finishing_ && (connections_.empty() || Clock::now() >= finish_deadline)) break;
    if (welcomed_ && any_connected && connections_.empty()) break;  // every rank hung up
    if (!welcomed_ && Clock::now() >= deadline) {
      std::vector<int> missing;
      for (int r = 0; r < world_size_; ++r)
        if (std::none_of(connections_.begin(), connections_.end(), [&](const Connection& c) { return c.rank == r; }))
          missing.push_back(r);
      fail("timeout", fmt::format("rank(s) {} never arrived at the rendezvous at {} within {:g} s: start every rank "
                                  "with the same --dist-init-addr and rank count (or wait longer with --dist-timeout)",
                                  fmt::join(missing, ", "), addr_, timeout_s_));
      break;
    }

    std::vector<pollfd> fds;
    fds.push_back({listener_.fd(), POLLIN, 0});
    fds.push_back({wake_read_.fd(), POLLIN, 0});
    for (const Connection& c : connections_) fds.push_back({c.socket.fd(), POLLIN, 0});
    if (poll(fds.data(), fds.size(), kPollMs) <= 0) continue;
    if (fds[1].revents) {
      char drain[16];
      (void)!read(wake_read_.fd(), drain, sizeof drain);
    }
    std::vector<size_t> closed;
    for (size_t i = 0; i < connections_.size() && !failed_; ++i) {
      if (!fds[i + 2].revents) continue;
      Connection& c = connections_[i];
      char chunk[4096];
      const ssize_t n = recv(c.socket.fd(), chunk, sizeof chunk, 0);
      if (n <= 0) {
        closed.push_back(i);
        continue;
      }
      c.buffer.append(chunk, size_t(n));
      nlohmann::json message;
      try {
        while (!failed_ && take_frame(c.buffer, message)) handle(c, message);
      } catch (const std::exception&) {
        closed.push_back(i);  // not one of moebench's ranks: dropped
      }
    }
    if (failed_) break;
    for (auto it = closed.rbegin(); it != closed.rend(); ++it) {
      const int rank = connections_[*it].rank;
      connections_.erase(connections_.begin() + std::ptrdiff_t(*it));
      if (!welcomed_ && rank >= 0) {
        fail("crash", fmt::format("rank {} left the rendezvous at {} before every rank arrived (did it fail?)", rank,
                                  addr_));
        break;
      }
    }
    if (failed_) break;
    if (fds[0].revents) accept_one();
    any_connected = any_connected || !connections_.empty();
    if (!welcomed_ && all_arrived()) welcome_or_refuse();
  }
  if (failed_) refuse_late_ranks();
  connections_.clear();
  listener_.reset();
}

}  // namespace moebench
