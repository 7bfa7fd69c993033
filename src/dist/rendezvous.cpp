#include "dist/rendezvous.hpp"

#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/errors.hpp"
#include "dist/rendezvous_server.hpp"

namespace moebench {

namespace {

// A rank waits for its welcome a little longer than rank 0's server waits for the last rank, so
// that it hears the server's one line (who never arrived) rather than a timeout of its own.
constexpr double kWelcomeSlack_s = 2;

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

[[noreturn]] void throw_server_error(const nlohmann::json& error) {
  const std::string kind = error.value("kind", "crash");
  const std::string message = error.value("message", "the rendezvous failed");
  if (kind == "input") throw InputError(message);
  throw RuntimeFailure(kind == "timeout" ? FailureKind::Timeout : FailureKind::Crash, message);
}

}  // namespace

std::unique_ptr<Rendezvous> Rendezvous::join(const RankEnv& env, const RendezvousOptions& options) {
  std::unique_ptr<Rendezvous> r(new Rendezvous());
  r->rank_ = env.rank;
  r->world_size_ = env.world_size;
  r->timeout_s_ = options.timeout_s;
  if (env.world_size == 1) {
    r->shared_blob_ = options.shared_blob;
    r->ranks_ = {RankInfo{0, host_name(), "127.0.0.1", int(getpid())}};
    return r;
  }
  r->addr_ = env.init_addr();
  if (env.rank == 0)
    r->server_ = std::make_unique<RendezvousServer>(listen_on(env.init_host, env.init_port, "--dist-init-addr"),
                                                    r->addr_, env.world_size, options.shared_blob, options.timeout_s);
  r->socket_ = connect_until(env.init_host, env.init_port, after(options.timeout_s), "--dist-init-addr");
  if (!r->socket_.valid())
    throw RuntimeFailure(FailureKind::Timeout,
                         fmt::format("rank {} could not reach rank 0's rendezvous at {} within {:g} s: start node 0 "
                                     "with the same --dist-init-addr (or wait longer with --dist-timeout)",
                                     env.rank, r->addr_, options.timeout_s));
  const std::string address = moebench::local_address(r->socket_.fd());
  const nlohmann::json hello = {{"op", "hello"},   {"rank", env.rank},   {"world_size", env.world_size},
                                {"host", host_name()}, {"address", address}, {"pid", int(getpid())},
                                {"config", options.config}};
  nlohmann::json reply;
  ReadStatus status = ReadStatus::closed;
  if (send_frame(r->socket_.fd(), hello))
    status = read_frame(r->socket_.fd(), r->buffer_, reply, after(options.timeout_s + kWelcomeSlack_s));
  if (status == ReadStatus::timed_out)
    throw RuntimeFailure(FailureKind::Timeout, fmt::format("rank {}: the rendezvous at {} did not complete within {:g} s (wait longer with --dist-timeout)",
                                                           env.rank, r->addr_, options.timeout_s));
  if (status == ReadStatus::closed)
    throw RuntimeFailure(FailureKind::Crash, fmt::format("rank {}: rank 0 closed the rendezvous at {} (did rank 0 fail?)",
                                                         env.rank, r->addr_));
  if (reply.value("op", "") == "error") throw_server_error(reply);
  const auto& blob = reply["blob"].get_binary();
  r->shared_blob_.assign(blob.begin(), blob.end());
  for (const nlohmann::json& row : reply["ranks"])
    r->ranks_.push_back(RankInfo{row["rank"].get<int>(), row["host"].get<std::string>(),
                                 row["address"].get<std::string>(), row["pid"].get<int>()});
  return r;
}

Rendezvous::~Rendezvous() {
  socket_.reset();
  if (server_) server_->finish(timeout_s_);
}

nlohmann::json Rendezvous::request(const nlohmann::json& message, std::chrono::milliseconds timeout,
                                   const std::string& what) {
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json reply;
  ReadStatus status = ReadStatus::closed;
  if (socket_.valid() && send_frame(socket_.fd(), message))
    status = read_frame(socket_.fd(), buffer_, reply, Clock::now() + timeout);
  if (status == ReadStatus::ok && reply.value("op", "") == "ok") return reply;
  socket_.reset();  // a late answer would be read as the next request's: the connection is done
  if (status == ReadStatus::timed_out)
    throw RuntimeFailure(FailureKind::Timeout,
                         fmt::format("rank {}: {} was not set in the rendezvous store at {} within {:g} s (did a rank "
                                     "fail?)",
                                     rank_, what, addr_, std::chrono::duration<double>(timeout).count()));
  throw RuntimeFailure(FailureKind::Crash, fmt::format("rank {}: lost the rendezvous store at {} while waiting for {} "
                                                       "(did rank 0 fail?)",
                                                       rank_, addr_, what));
}

void Rendezvous::set(const std::string& key, const std::vector<char>& value) {
  if (world_size_ == 1) {
    local_store_[key] = value;
    return;
  }
  request({{"op", "set"}, {"key", key}, {"value", nlohmann::json::binary(std::vector<uint8_t>(value.begin(), value.end()))}},
          std::chrono::milliseconds(int64_t(timeout_s_ * 1000)), fmt::format("the acknowledgement of key \"{}\"", key));
}

std::vector<char> Rendezvous::get(const std::string& key) {
  if (world_size_ == 1) {
    const auto it = local_store_.find(key);
    if (it == local_store_.end())
      throw RuntimeFailure(FailureKind::Timeout, fmt::format("key \"{}\" is not set (a world of one rank)", key));
    return it->second;
  }
  const nlohmann::json reply = request({{"op", "get"}, {"key", key}}, std::chrono::milliseconds(int64_t(timeout_s_ * 1000)),
                                       fmt::format("key \"{}\"", key));
  const auto& value = reply["value"].get_binary();
  return std::vector<char>(value.begin(), value.end());
}

void Rendezvous::wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  if (world_size_ == 1) {
    for (const std::string& k : keys)
      if (!local_store_.count(k))
        throw RuntimeFailure(FailureKind::Timeout, fmt::format("key \"{}\" is not set (a world of one rank)", k));
    return;
  }
  request({{"op", "wait"}, {"keys", keys}}, timeout, fmt::format("key(s) \"{}\"", fmt::join(keys, "\", \"")));
}

}  // namespace moebench
