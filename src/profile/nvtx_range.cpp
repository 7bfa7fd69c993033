#include "profile/nvtx_range.hpp"

#ifdef MOEBENCH_WITH_NVTX
#include <nvtx3/nvToolsExt.h>
#endif

namespace moebench {

#ifdef MOEBENCH_WITH_NVTX

namespace {

nvtxDomainHandle_t domain() {
  static nvtxDomainHandle_t handle = nvtxDomainCreateA("moebench");
  return handle;
}

}  // namespace

void nvtx_push(const std::string& name) {
  nvtxEventAttributes_t attributes{};
  attributes.version = NVTX_VERSION;
  attributes.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  attributes.messageType = NVTX_MESSAGE_TYPE_ASCII;
  attributes.message.ascii = name.c_str();
  nvtxDomainRangePushEx(domain(), &attributes);
}

void nvtx_pop() { nvtxDomainRangePop(domain()); }

#else

void nvtx_push(const std::string&) {}
void nvtx_pop() {}

#endif

}  // namespace moebench
