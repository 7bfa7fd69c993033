// The Gloo plugin (libmoebench_gloo.so): Gloo's TCP transport and collectives behind the plain C
// interface of dist/gloo_plugin_api.h, loaded by dist/gloo_communicator.cpp only when a run asks
// for more than one CPU rank. Gloo (Debian's libgloo0) is a shared library that pulls in
// libhiredis and libibverbs, which the GPU machine does not have; kept out of the moebench binary,
// it costs a GPU run nothing. Every Gloo exception is caught here and returned as an error line.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/alltoallv.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/common/error.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/tcp/device.h>

#include "dist/gloo_plugin_api.h"

namespace {

// moebench's rendezvous store, seen by Gloo.
class HostStore final : public gloo::rendezvous::Store {
 public:
  explicit HostStore(const moebench_gloo_store& store) : store_(store) {}

  void set(const std::string& key, const std::vector<char>& data) override {
    char error[512] = {};
    if (store_.set(store_.self, key.c_str(), data.data(), data.size(), error, sizeof error) != 0) fail(error);
  }

  std::vector<char> get(const std::string& key) override {
    char error[512] = {};
    std::vector<char> value;
    auto sink = [](void* self, const char* data, size_t size) {
      static_cast<std::vector<char>*>(self)->assign(data, data + size);
    };
    if (store_.get(store_.self, key.c_str(), sink, &value, error, sizeof error) != 0) fail(error);
    return value;
  }

  void wait(const std::vector<std::string>& keys) override { wait(keys, kDefaultTimeout); }

  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override {
    std::vector<const char*> names;
    for (const std::string& k : keys) names.push_back(k.c_str());
    char error[512] = {};
    if (store_.wait(store_.self, names.data(), names.size(), int64_t(timeout.count()), error, sizeof error) != 0)
      fail(error);
  }

 private:
  [[noreturn]] static void fail(const char* error) { throw gloo::IoException(error); }
  moebench_gloo_store store_;
};

struct Comm {
  std::shared_ptr<gloo::rendezvous::Context> context;
};

void write_error(char* error, size_t error_size, const std::string& text) {
  if (!error || error_size == 0) return;
  std::strncpy(error, text.c_str(), error_size - 1);
  error[error_size - 1] = '\0';
}

// Runs `work`, turning an exception into an error code and line.
template <typename F>
int guarded(const char* what, char* error, size_t error_size, F&& work) {
  try {
    work();
    return MOEBENCH_GLOO_OK;
  } catch (const std::exception& e) {
    const std::string text = e.what();
    // Gloo's messages carry the source location first: keep what follows its "] ".
    const size_t cut = text.rfind("] ");
    const std::string line = cut == std::string::npos ? text : text.substr(cut + 2);
    write_error(error, error_size, std::string(what) + ": " + line);
    const bool timeout = text.find("Timed out") != std::string::npos || text.find("timed out") != std::string::npos;
    return timeout ? MOEBENCH_GLOO_TIMEOUT : MOEBENCH_GLOO_FAILED;
  }
}

void* create(int rank, int size, const char* address, int64_t timeout_ms, const moebench_gloo_store* store,
             char* error, size_t error_size) {
  Comm* comm = nullptr;
  guarded("gloo connect", error, error_size, [&] {
    gloo::transport::tcp::attr attr;
    attr.hostname = address;
    auto device = gloo::transport::tcp::CreateDevice(attr);
    auto context = std::make_shared<gloo::rendezvous::Context>(rank, size);
    context->setTimeout(std::chrono::milliseconds(timeout_ms));
    HostStore host_store(*store);
    context->connectFullMesh(host_store, device);
    // Once every rank passes this barrier every rank has connected: none needs the store again.
    gloo::BarrierOptions opts(context);
    gloo::barrier(opts);
    comm = new Comm{std::move(context)};
  });
  return comm;
}

void destroy(void* comm) { delete static_cast<Comm*>(comm); }

const std::shared_ptr<gloo::rendezvous::Context>& context_of(void* comm) { return static_cast<Comm*>(comm)->context; }

int barrier(void* comm, char* error, size_t error_size) {
  return guarded("gloo barrier", error, error_size, [&] {
    gloo::BarrierOptions opts(context_of(comm));
    gloo::barrier(opts);
  });
}

template <typename T>
void all_reduce_typed(void* comm, T* data, size_t count) {
  gloo::AllreduceOptions opts(context_of(comm));
  opts.setInput(data, count);
  opts.setOutput(data, count);
  opts.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<T>));
  gloo::allreduce(opts);
}

int all_reduce_sum(void* comm, void* data, size_t count, size_t element_size, char* error, size_t error_size) {
  return guarded("gloo allreduce", error, error_size, [&] {
    if (count == 0) return;
    if (element_size == sizeof(float)) all_reduce_typed(comm, static_cast<float*>(data), count);
    else if (element_size == sizeof(double)) all_reduce_typed(comm, static_cast<double*>(data), count);
    else throw std::invalid_argument("element size " + std::to_string(element_size) + " is neither float nor double");
  });
}

int all_gather(void* comm, const void* send, size_t bytes, void* recv, char* error, size_t error_size) {
  return guarded("gloo allgather", error, error_size, [&] {
    if (bytes == 0) return;
    gloo::AllgatherOptions opts(context_of(comm));
    opts.setInput(const_cast<char*>(static_cast<const char*>(send)), bytes);
    opts.setOutput(static_cast<char*>(recv), bytes * size_t(context_of(comm)->size));
    gloo::allgather(opts);
  });
}

int all_to_all_v(void* comm, const void* send, const size_t* send_bytes, void* recv, const size_t* recv_bytes,
                 char* error, size_t error_size) {
  return guarded("gloo alltoallv", error, error_size, [&] {
    const int n = context_of(comm)->size;
    std::vector<int64_t> in(send_bytes, send_bytes + n), out(recv_bytes, recv_bytes + n);
    // Gloo wants a buffer even when nothing moves.
    char none = 0;
    char* in_ptr = const_cast<char*>(static_cast<const char*>(send));
    char* out_ptr = static_cast<char*>(recv);
    gloo::AlltoallvOptions opts(context_of(comm));
    opts.setInput(in_ptr ? in_ptr : &none, in);
    opts.setOutput(out_ptr ? out_ptr : &none, out);
    gloo::alltoallv(opts);
  });
}

int broadcast(void* comm, void* data, size_t bytes, int root, char* error, size_t error_size) {
  return guarded("gloo broadcast", error, error_size, [&] {
    if (bytes == 0) return;
    gloo::BroadcastOptions opts(context_of(comm));
    opts.setRoot(root);
    if (context_of(comm)->rank == root) opts.setInput(static_cast<char*>(data), bytes);
    opts.setOutput(static_cast<char*>(data), bytes);
    gloo::broadcast(opts);
  });
}

const moebench_gloo_api kApi = {MOEBENCH_GLOO_API_VERSION, create, destroy, barrier, all_reduce_sum,
                                all_gather, all_to_all_v, broadcast};

}  // namespace

extern "C" __attribute__((visibility("default"))) const moebench_gloo_api* moebench_gloo_plugin(void) { return &kApi; }
