#include "backend/backend.hpp"

#include "core/errors.hpp"

namespace moebench {

std::unique_ptr<Backend> make_cpu_backend();
#ifdef MOEBENCH_WITH_CUDA
std::unique_ptr<Backend> make_cuda_backend();
bool cuda_device_visible();
int cuda_visible_device_count();
void cuda_set_device(int device);
#endif

BackendKind parse_backend_kind(const std::string& text) {
  if (text == "auto") return BackendKind::automatic;
  if (text == "cpu") return BackendKind::cpu;
  if (text == "cuda" || text == "gpu") return BackendKind::cuda;
  throw InputError("--backend: unknown backend '" + text + "': use auto, cuda or cpu");
}

const char* backend_kind_name(BackendKind kind) {
  switch (kind) {
    case BackendKind::automatic: return "auto";
    case BackendKind::cpu: return "cpu";
    case BackendKind::cuda: return "cuda";
  }
  return "?";
}

bool cuda_available() {
#ifdef MOEBENCH_WITH_CUDA
  return cuda_device_visible();
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef MOEBENCH_WITH_CUDA
  return cuda_visible_device_count();
#else
  return 0;
#endif
}

void select_cuda_device(int device) {
  if (device < 0 || device >= cuda_device_count())
    throw InputError("GPU " + std::to_string(device) + " is not visible (" + std::to_string(cuda_device_count()) +
                     " visible): check CUDA_VISIBLE_DEVICES");
#ifdef MOEBENCH_WITH_CUDA
  cuda_set_device(device);
#endif
}

std::unique_ptr<Backend> make_backend(BackendKind kind) {
  if (kind == BackendKind::cpu) return make_cpu_backend();
  if (cuda_available()) {
#ifdef MOEBENCH_WITH_CUDA
    return make_cuda_backend();
#endif
  }
  if (kind == BackendKind::cuda) {
#ifdef MOEBENCH_WITH_CUDA
    throw InputError("--backend cuda: no CUDA GPU is visible; use --backend cpu or auto");
#else
    throw InputError("--backend cuda: this moebench was built without CUDA; use --backend cpu or auto");
#endif
  }
  return make_cpu_backend();
}

}  // namespace moebench
