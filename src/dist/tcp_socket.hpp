#pragma once
// The few TCP pieces the rendezvous needs (dist/rendezvous.*): a listening socket that says
// clearly when its port is taken, a connect that retries until a deadline (rank 0 may start last),
// and length-prefixed frames of CBOR-encoded JSON, read with a deadline. The collectives never go
// through here: they run on Gloo or NCCL.
#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

namespace moebench {

using Clock = std::chrono::steady_clock;

// An owned file descriptor, closed on destruction.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(other.release()) {}
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { reset(); }
  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void reset();

 private:
  int fd_ = -1;
};

// Listens on HOST:PORT (all interfaces unless HOST is a loopback address). Throws InputError
// naming `flag` when the port is in use or the host cannot be listened on.
Socket listen_on(const std::string& host, int port, const std::string& flag);

// Connects to HOST:PORT, retrying refused connections until `deadline`; an invalid Socket when
// none was accepted by then. Throws InputError naming `flag` when HOST does not resolve.
Socket connect_until(const std::string& host, int port, Clock::time_point deadline, const std::string& flag);

// A port nobody listens on at 127.0.0.1 now (the kernel's pick), for a single node's rendezvous.
int pick_free_port();

// The local address (numeric host) a connected socket uses: the interface that reaches its peer.
std::string local_address(int fd);

// Frames: a 4-byte little-endian length, then the CBOR encoding of one JSON value.
std::string encode_frame(const nlohmann::json& message);
// Takes one whole frame off the front of `buffer` into `message`; false when none is complete yet.
// Throws std::runtime_error on a frame that does not decode.
bool take_frame(std::string& buffer, nlohmann::json& message);

enum class ReadStatus { ok, closed, timed_out };
// Sends one frame (blocking); false when the peer is gone.
bool send_frame(int fd, const nlohmann::json& message);
// Reads the next frame into `message`, keeping bytes of later frames in `buffer`.
ReadStatus read_frame(int fd, std::string& buffer, nlohmann::json& message, Clock::time_point deadline);

}  // namespace moebench
