#pragma once
// Gloo between CPU ranks. Gloo comes as a plugin, libmoebench_gloo.so beside the moebench binary
// (dist/plugin/gloo_plugin.cpp), opened with dlopen only when a run asks for more than one CPU
// rank. Why a plugin: Debian's libgloo is a shared library pulling in libhiredis and libibverbs,
// which the GPU machine (Ubuntu, no Debian packages) lacks; linked into moebench, the binary would
// not even start there. As a plugin, moebench starts everywhere, a GPU run never touches Gloo, and
// a multi-rank CPU run where it cannot load fails with one line saying what to install. The
// plugin speaks plain C (dist/gloo_plugin_api.h) because the binary links libstdc++ statically and
// Gloo uses the system's: no C++ object or exception may cross.
#include <memory>

#include "dist/communicator.hpp"
#include "dist/rendezvous.hpp"

namespace moebench {

// The plugin's path: $MOEBENCH_GLOO_PLUGIN when set, else libmoebench_gloo.so beside this
// executable.
std::string gloo_plugin_path();

// Connects the rendezvous's ranks (world size > 1) into a Gloo full mesh, through the rendezvous
// store, listening on the interface that reaches rank 0, with the rendezvous's timeout for every
// collective. InputError when the plugin cannot be loaded; RuntimeFailure when the ranks cannot
// connect. A collective that fails throws RuntimeFailure(NcclError), the collective library's
// failure class on CPU ranks as on GPUs, or Timeout.
std::unique_ptr<Communicator> make_gloo_communicator(Rendezvous& rendezvous);

}  // namespace moebench
