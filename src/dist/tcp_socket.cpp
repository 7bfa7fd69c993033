#include "dist/tcp_socket.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench {

namespace {

constexpr size_t kMaxFrameBytes = 64u << 20;  // a corrupt length never allocates more

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const { freeaddrinfo(info); }
};
using AddrInfo = std::unique_ptr<addrinfo, AddrInfoDeleter>;

AddrInfo resolve(const std::string& host, int port, int flags, const std::string& flag) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints, &result);
  if (rc != 0)
    throw InputError(fmt::format("{} {}:{}: cannot resolve \"{}\" ({}): give a host name or address this machine "
                                 "resolves",
                                 flag, host, port, host, gai_strerror(rc)));
  return AddrInfo(result);
}

bool is_loopback(const addrinfo* a) {
  if (a->ai_family == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr.s_addr) >> 24) == 127;
  if (a->ai_family == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr);
  return false;
}

}  // namespace

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

int Socket::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void Socket::reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Socket listen_on(const std::string& host, int port, const std::string& flag) {
  // A loopback address stays private to the machine; any other name is listened on everywhere,
  // since a host name may resolve on rank 0's own machine to another interface than the peers use.
  AddrInfo named = resolve(host, port, 0, flag);
  const AddrInfo where = is_loopback(named.get()) ? std::move(named) : resolve("", port, AI_PASSIVE, flag);
  int last_errno = 0;
  for (const addrinfo* a = where.get(); a; a = a->ai_next) {
    Socket s(socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!s.valid()) {
      last_errno = errno;
      continue;
    }
    const int one = 1;
    setsockopt(s.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s.fd(), a->ai_addr, a->ai_addrlen) == 0 && listen(s.fd(), 128) == 0) return s;
    last_errno = errno;
    if (last_errno == EADDRINUSE) break;
  }
  if (last_errno == EADDRINUSE)
    throw InputError(fmt::format("{} {}:{}: port {} is already in use: pick a free port for {} (the same on every "
                                 "node) or stop the process that holds it",
                                 flag, host, port, port, flag));
  throw InputError(fmt::format("{} {}:{}: cannot listen there ({}): give an address of rank 0's own machine", flag,
                               host, port, std::strerror(last_errno)));
}

Socket connect_until(const std::string& host, int port, Clock::time_point deadline, const std::string& flag) {
  const AddrInfo where = resolve(host, port, 0, flag);
  while (true) {
    for (const addrinfo* a = where.get(); a; a = a->ai_next) {
      Socket s(socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
      if (!s.valid()) continue;
      if (connect(s.fd(), a->ai_addr, a->ai_addrlen) == 0) {
        const int one = 1;
        setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return s;
      }
    }
    if (Clock::now() >= deadline) return Socket();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int pick_free_port() {
  Socket s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (!s.valid() || bind(s.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(s.fd(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw RuntimeFailure(FailureKind::Crash, fmt::format("cannot find a free port on 127.0.0.1: {}", std::strerror(errno)));
  return ntohs(addr.sin_port);
}

std::string local_address(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  char host[NI_MAXHOST] = {};
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0)
    return "127.0.0.1";
  return host;
}

std::string encode_frame(const nlohmann::json& message) {
  const std::vector<uint8_t> body = nlohmann::json::to_cbor(message);
  std::string frame(4, '\0');
  const uint32_t n = uint32_t(body.size());
  for (int i = 0; i < 4; ++i) frame[size_t(i)] = char((n >> (8 * i)) & 0xff);
  frame.append(body.begin(), body.end());
  return frame;
}

bool take_frame(std::string& buffer, nlohmann::json& message) {
  if (buffer.size() < 4) return false;
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= uint32_t(uint8_t(buffer[size_t(i)])) << (8 * i);
  if (n > kMaxFrameBytes) throw std::runtime_error(fmt::format("a frame of {} bytes is larger than any sent", n));
  if (buffer.size() < 4 + size_t(n)) return false;
  message = nlohmann::json::from_cbor(buffer.begin() + 4, buffer.begin() + 4 + n);
  buffer.erase(0, 4 + size_t(n));
  return true;
}

bool send_frame(int fd, const nlohmann::json& message) {
  const std::string frame = encode_frame(message);
  for (size_t sent = 0; sent < frame.size();) {
    const ssize_t n = send(fd, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += size_t(n);
  }
  return true;
}

ReadStatus read_frame(int fd, std::string& buffer, nlohmann::json& message, Clock::time_point deadline) {
  char chunk[4096];
  while (!take_frame(buffer, message)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return ReadStatus::timed_out;
    pollfd pfd{fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, int(std::min<int64_t>(left, 1000)));
    if (ready < 0 && errno != EINTR) return ReadStatus::closed;
    if (ready <= 0) continue;
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ReadStatus::closed;
    buffer.append(chunk, size_t(n));
  }
  return ReadStatus::ok;
}

}  // namespace moebench
