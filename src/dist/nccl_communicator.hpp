#pragma once
// NCCL between GPU ranks (CUDA builds only: dist/nccl_communicator_cuda.cpp), on the host API:
// ncclCommInitRank with the unique id rank 0 made and the rendezvous handed out, then every
// collective enqueued on the stream it was given, buffers in this rank's GPU memory. All-to-all-v
// is a group of ncclSend/ncclRecv, one pair per peer with bytes to move. NVLink multicast stays
// off: NCCL_NVLS_ENABLE=0 is set before init unless the user set it. NCCL failures become
// RuntimeFailure(NcclError); a peer that stops answering makes synchronize() abort the
// communicator at the rendezvous's timeout (RuntimeFailure(Timeout)) instead of waiting forever.
#include <cuda_runtime_api.h>

#include <memory>
#include <string>

#include "dist/communicator.hpp"
#include "dist/rendezvous.hpp"

namespace moebench {

// NCCL's unique id (128 bytes), made by global rank 0 before the rendezvous and handed to every
// rank as its shared blob (RendezvousOptions::shared_blob).
std::string nccl_unique_id();

// The communicator of this rank: rank and size from the rendezvous, the unique id from its shared
// blob, on GPU `device` (usually RankEnv::local_rank), collectives enqueued on `stream`. A world of
// one needs no rendezvous server: rank 0's own id is its blob.
std::unique_ptr<Communicator> make_nccl_communicator(const Rendezvous& rendezvous, int device, cudaStream_t stream);

}  // namespace moebench
