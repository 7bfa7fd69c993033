#include "dist/gloo_communicator.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "core/errors.hpp"
#include "core/subprocess.hpp"
#include "dist/gloo_plugin_api.h"

namespace moebench {

namespace {

constexpr size_t kErrorBytes = 1024;
// Gloo's keys in the rendezvous store, apart from anything else kept there.
constexpr const char* kKeyPrefix = "gloo/";

const moebench_gloo_api& load_plugin(int world_size) {
  static const moebench_gloo_api* api = nullptr;
  if (api) return *api;
  const std::string path = gloo_plugin_path();
  const std::string fix = fmt::format("{} CPU ranks run on Gloo: install libgloo0 (scripts/setup) and keep "
                                      "libmoebench_gloo.so beside the moebench binary (or name it in "
                                      "MOEBENCH_GLOO_PLUGIN), or run one rank",
                                      world_size);
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw InputError(fmt::format("cannot load the Gloo plugin ({}): {}", dlerror(), fix));
  using Entry = const moebench_gloo_api* (*)();
  const auto entry = reinterpret_cast<Entry>(dlsym(handle, "moebench_gloo_plugin"));
  const moebench_gloo_api* found = entry ? entry() : nullptr;
  if (!found || found->version != MOEBENCH_GLOO_API_VERSION)
    throw InputError(fmt::format("{} is not this build's Gloo plugin (no moebench_gloo_plugin of version {}): {}", path,
                                 MOEBENCH_GLOO_API_VERSION, fix));
  api = found;  // never closed: Gloo's threads may outlive any one communicator
  return *api;
}

// A Gloo operation that failed is the collective library's failure (a peer gone, a connection
// lost): NcclError, the class a sweep stores for NCCL's on GPUs; one that ran out of time, Timeout.
[[noreturn]] void throw_gloo(int code, int rank, const char* error) {
  throw RuntimeFailure(code == MOEBENCH_GLOO_TIMEOUT ? FailureKind::Timeout : FailureKind::NcclError,
                       fmt::format("rank {}: {}", rank, error));
}

// The store callbacks: moebench's exceptions stop here and cross as an error line.
template <typename F>
int store_call(char* error, size_t error_size, F&& work) {
  try {
    work();
    return MOEBENCH_GLOO_OK;
  } catch (const std::exception& e) {
    std::snprintf(error, error_size, "%s", e.what());
    return dynamic_cast<const RuntimeFailure*>(&e) &&
                   static_cast<const RuntimeFailure&>(e).kind() == FailureKind::Timeout
               ? MOEBENCH_GLOO_TIMEOUT
               : MOEBENCH_GLOO_FAILED;
  }
}

moebench_gloo_store store_of(Rendezvous& rendezvous) {
  moebench_gloo_store store{};
  store.self = &rendezvous;
  store.set = [](void* self, const char* key, const char* data, size_t size, char* error, size_t error_size) {
    return store_call(error, error_size, [&] {
      static_cast<Rendezvous*>(self)->set(kKeyPrefix + std::string(key), std::vector<char>(data, data + size));
    });
  };
  store.get = [](void* self, const char* key, void (*sink)(void*, const char*, size_t), void* sink_self, char* error,
                 size_t error_size) {
    return store_call(error, error_size, [&] {
      const std::vector<char> value = static_cast<Rendezvous*>(self)->get(kKeyPrefix + std::string(key));
      sink(sink_self, value.data(), value.size());
    });
  };
  store.wait = [](void* self, const char* const* keys, size_t count, int64_t timeout_ms, char* error,
                  size_t error_size) {
    return store_call(error, error_size, [&] {
      std::vector<std::string> names;
      for (size_t i = 0; i < count; ++i) names.push_back(kKeyPrefix + std::string(keys[i]));
      static_cast<Rendezvous*>(self)->wait(names, std::chrono::milliseconds(timeout_ms));
    });
  };
  return store;
}

class GlooCommunicator final : public Communicator {
 public:
  GlooCommunicator(const moebench_gloo_api& api, void* comm, int rank, int size)
      : api_(api), comm_(comm), rank_(rank), size_(size) {}
  ~GlooCommunicator() override { api_.destroy(comm_); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* library() const override { return "gloo"; }

  void barrier() override { check(api_.barrier(comm_, error_, kErrorBytes)); }
  void all_reduce_sum(float* data, size_t count) override {
    check(api_.all_reduce_sum(comm_, data, count, sizeof(float), error_, kErrorBytes));
  }
  void all_reduce_sum(double* data, size_t count) override {
    check(api_.all_reduce_sum(comm_, data, count, sizeof(double), error_, kErrorBytes));
  }
  void all_gather(const void* send, size_t bytes, void* recv) override {
    check(api_.all_gather(comm_, send, bytes, recv, error_, kErrorBytes));
  }

  // Gloo's alltoallv takes packed buffers: a layout with gaps goes through a packed copy.
  void all_to_all_v(const void* send, const ExchangeLayout& send_layout, void* recv,
                    const ExchangeLayout& recv_layout) override {
    check_layout(send_layout, "send");
    check_layout(recv_layout, "receive");
    std::vector<char> packed_send, packed_recv;
    const void* in = send;
    if (!send_layout.packed()) {
      packed_send.resize(send_layout.total_bytes());
      for (size_t p = 0, at = 0; p < size_t(size_); at += send_layout.bytes[p], ++p)
        if (send_layout.bytes[p])
          std::memcpy(packed_send.data() + at, static_cast<const char*>(send) + send_layout.offsets[p], send_layout.bytes[p]);
      in = packed_send.data();
    }
    void* out = recv;
    if (!recv_layout.packed()) {
      packed_recv.resize(recv_layout.total_bytes());
      out = packed_recv.data();
    }
    check(api_.all_to_all_v(comm_, in, send_layout.bytes.data(), out, recv_layout.bytes.data(), error_, kErrorBytes));
    if (!recv_layout.packed())
      for (size_t p = 0, at = 0; p < size_t(size_); at += recv_layout.bytes[p], ++p)
        if (recv_layout.bytes[p])
          std::memcpy(static_cast<char*>(recv) + recv_layout.offsets[p], packed_recv.data() + at, recv_layout.bytes[p]);
  }

  // This Gloo has no reduce-scatter of its own for unbound buffers: an allreduce of a copy, of
  // which this rank keeps its block. Twice the traffic of a true reduce-scatter, which the CPU
  // ranks (there to test the multi-rank paths, not to time them) can afford.
  void reduce_scatter_sum(const float* send, float* recv, size_t recv_count) override {
    std::vector<float> sum(send, send + recv_count * size_t(size_));
    all_reduce_sum(sum.data(), sum.size());
    std::memcpy(recv, sum.data() + size_t(rank_) * recv_count, recv_count * sizeof(float));
  }

  void broadcast(void* data, size_t bytes, int root) override {
    check(api_.broadcast(comm_, data, bytes, root, error_, kErrorBytes));
  }

  // Sizes first (an allgather), then every blob to rank 0 in one alltoallv.
  std::vector<std::string> gather_to_root(const std::string& blob) override {
    std::vector<uint64_t> sizes(static_cast<size_t>(size_));
    const uint64_t mine = blob.size();
    all_gather(&mine, sizeof mine, sizes.data());
    std::vector<size_t> send_bytes(size_t(size_), 0), recv_bytes(size_t(size_), 0);
    send_bytes[0] = blob.size();
    if (rank_ == 0)
      for (int r = 0; r < size_; ++r) recv_bytes[size_t(r)] = size_t(sizes[size_t(r)]);
    const ExchangeLayout send_layout = packed_layout(send_bytes), recv_layout = packed_layout(recv_bytes);
    std::string all(recv_layout.total_bytes(), '\0');
    all_to_all_v(blob.data(), send_layout, all.data(), recv_layout);
    std::vector<std::string> blobs;
    if (rank_ == 0)
      for (int r = 0; r < size_; ++r) blobs.push_back(all.substr(recv_layout.offsets[size_t(r)], recv_bytes[size_t(r)]));
    return blobs;
  }

  void synchronize() override {}

 private:
  void check(int code) {
    if (code != MOEBENCH_GLOO_OK) throw_gloo(code, rank_, error_);
  }
  void check_layout(const ExchangeLayout& layout, const char* side) const {
    if (layout.bytes.size() != size_t(size_) || layout.offsets.size() != size_t(size_))
      throw RuntimeFailure(FailureKind::InvalidConfig,
                           fmt::format("rank {}: all_to_all_v's {} layout has {} count(s) and {} offset(s) for {} ranks",
                                       rank_, side, layout.bytes.size(), layout.offsets.size(), size_));
  }

  const moebench_gloo_api& api_;
  void* comm_;
  int rank_, size_;
  char error_[kErrorBytes] = {};
};

}  // namespace

std::string gloo_plugin_path() {
  if (const char* path = std::getenv("MOEBENCH_GLOO_PLUGIN"); path && *path) return path;
  return (std::filesystem::path(self_executable()).parent_path() / "libmoebench_gloo.so").string();
}

std::unique_ptr<Communicator> make_gloo_communicator(Rendezvous& rendezvous) {
  const moebench_gloo_api& api = load_plugin(rendezvous.world_size());
  const moebench_gloo_store store = store_of(rendezvous);
  char error[kErrorBytes] = {};
  void* comm = api.create(rendezvous.rank(), rendezvous.world_size(), rendezvous.local_address().c_str(),
                          int64_t(rendezvous.timeout_s() * 1000), &store, error, sizeof error);
  if (!comm) throw_gloo(std::strstr(error, "imed out") ? MOEBENCH_GLOO_TIMEOUT : MOEBENCH_GLOO_FAILED, rendezvous.rank(), error);
  return std::make_unique<GlooCommunicator>(api, comm, rendezvous.rank(), rendezvous.world_size());
}

}  // namespace moebench
