// The registry of MoE layer implementations: one line per implementation.
#include <algorithm>

#include "core/errors.hpp"
#include "moe/local_experts.hpp"
#include "moe/moe_impl.hpp"

namespace moebench {

std::unique_ptr<MoeImpl> make_cpu_reference(Backend& backend);
std::unique_ptr<MoeImpl> make_cpu_expert_parallel(Backend& backend);
std::unique_ptr<MoeImpl> make_cpu_tensor_parallel(Backend& backend);
#ifdef MOEBENCH_WITH_CUDA
std::unique_ptr<MoeImpl> make_cuda_naive(Backend& backend);
std::unique_ptr<MoeImpl> make_cuda_grouped(Backend& backend);
std::unique_ptr<MoeImpl> make_cuda_tile_rounded(Backend& backend);
std::unique_ptr<MoeImpl> make_cuda_fused(Backend& backend);
std::unique_ptr<MoeImpl> make_cuda_expert_parallel(Backend& backend);
std::unique_ptr<MoeImpl> make_cuda_tensor_parallel(Backend& backend);
std::unique_ptr<MoeImpl> make_cuda_fused_expert_parallel(Backend& backend);
#endif
std::unique_ptr<MoeImpl> make_auto(Backend& backend);

const std::vector<ImplInfo>& all_impls() {
  static const std::vector<ImplInfo> impls = {
      {"reference", "CPU: multithreaded per-expert loop, bf16/fp16 storage, fp32 accumulation",
       BackendKind::cpu, make_cpu_reference},
      {"ep", "CPU ranks: experts split over --ep-size groups; each rank's tokens dispatched to their experts' ranks "
       "and combined back (all-to-all)", BackendKind::cpu, make_cpu_expert_parallel, RankTokens::token_slice, expert_parallel_experts},
      {"tp", "CPU ranks: every rank runs the whole batch on its experts' intermediate slices, then an all-reduce",
       BackendKind::cpu, make_cpu_tensor_parallel, RankTokens::whole_batch, tensor_parallel_experts},
#ifdef MOEBENCH_WITH_CUDA
      {"naive", "CUDA: per-expert cuBLAS GEMMs after GPU routing (host sync for counts, like an eager loop)",
       BackendKind::cuda, make_cuda_naive},
      {"grouped", "CUDA: CUTLASS Hopper grouped GEMMs (TMA, warp-specialised), counts on the device",
       BackendKind::cuda, make_cuda_grouped},
      {"tile-rounded", "CUDA: grouped with tile-aware token rounding (SonicMoE): expert counts rounded to GEMM tiles",
       BackendKind::cuda, make_cuda_tile_rounded},
      {"fused", "CUDA: decode-sized batches stream each routed expert's weights once (gate+up+activation, down, combine); grouped above",
       BackendKind::cuda, make_cuda_fused},
      {"auto", "CUDA: the fastest exact one of the above per token-count bucket, measured once per GPU and shape (cached)",
       BackendKind::cuda, make_auto},
      {"ep",
       "CUDA ranks: experts split over --ep-size groups; each rank's tokens dispatched to their experts' GPUs "
       "and combined back (NCCL send/recv), experts on the grouped GEMM path",
       BackendKind::cuda, make_cuda_expert_parallel, RankTokens::token_slice, expert_parallel_experts},
      {"tp",
       "CUDA ranks: every GPU runs the whole batch on its experts' intermediate slices (grouped GEMMs), then an "
       "NCCL all-reduce",
       BackendKind::cuda, make_cuda_tensor_parallel, RankTokens::whole_batch, tensor_parallel_experts},
      {"fused-ep",
       "CUDA ranks: ep with dispatch and combine kernels that write into the peers' GPU memory (NCCL device API, "
       "symmetric windows, NVLink load/store), routing and counts on the device, graph-recorded",
       BackendKind::cuda, make_cuda_fused_expert_parallel, RankTokens::token_slice, expert_parallel_experts},
#endif
  };
  return impls;
}

std::vector<const ImplInfo*> select_impls(const std::vector<std::string>& names, BackendKind backend, int ranks) {
  std::vector<const ImplInfo*> available;
  for (const ImplInfo& info : all_impls())
    if (info.backend == backend && (ranks == 1 || info.rank_tokens != RankTokens::one_device))
      available.push_back(&info);
  auto list_available = [&] {
    std::string s;
    for (const ImplInfo* info : available) s += (s.empty() ? "" : ", ") + info->name;
    return s;
  };
  bool want_all = names.empty() || std::find(names.begin(), names.end(), "all") != names.end();
  if (want_all) {
    std::vector<const ImplInfo*> all;
    for (const ImplInfo* info : available)
      if ((ranks == 1) == (info->rank_tokens == RankTokens::one_device)) all.push_back(info);
    return all;
  }
  std::vector<const ImplInfo*> chosen;
  for (const std::string& name : names) {
    auto it = std::find_if(available.begin(), available.end(),
                           [&](const ImplInfo* info) { return info->name == name; });
    const bool one_device = std::any_of(all_impls().begin(), all_impls().end(), [&](const ImplInfo& info) {
      return info.name == name && info.backend == backend && info.rank_tokens == RankTokens::one_device;
    });
    if (it == available.end() && one_device)
      throw InputError("--impl " + name + " runs a layer on one device; with --tp-size " + std::to_string(ranks) +
                       " use: " + list_available() + ", or all");
    if (it == available.end())
      throw InputError("--impl: unknown implementation '" + name + "' for the " +
                       backend_kind_name(backend) + " backend; available: " + list_available() +
                       ", or all");
    if (std::find(chosen.begin(), chosen.end(), *it) == chosen.end()) chosen.push_back(*it);
  }
  return chosen;
}

}  // namespace moebench
