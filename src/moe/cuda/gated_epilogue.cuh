#pragma once
// A CUTLASS collective epilogue for the gate+up grouped GEMM of `fused`: it applies the gated
// activation to the fp32 accumulators and stores act(gate) * up [rows][N/2] directly, so the
// [rows][N] gate+up product is never written to memory nor read back by an activation pass.
//
// The weights' gate and up rows must be interleaved (interleave_gate_up()) so that every
// thread holds both halves of its outputs. A Hopper GMMA accumulator fragment is
// ((2,2,V), MMA_M, MMA_N) per thread: two adjacent columns 2q, 2q+1 (q = lane % 4) x rows r and
// r+8 x V groups of 8 columns (gated_layout.cuh; kGatedBlock in grouped_gemm.cuh).
// - Tokens as rows (kStagedTokens = 0): in each 128-column block of the product, group v (even)
//   holds gate columns and group v+1 the up columns of the same outputs, and the 16 outputs of
//   thread q are 16q..16q+15 of the block's 64: two 16-byte stores from registers.
// - Tokens as columns (the swapped tiles, kStagedTokens = the tile's token columns): the same
//   weight order puts a gate row and its up row 8 rows apart, rows r and r+8 of one thread, but
//   a thread's outputs for one token are then pairs 16 apart. Each consumer warpgroup stages
//   its 64-row slices (32 outputs x the tile's tokens) in shared memory and stores them as runs
//   of 8 consecutive outputs, 16 bytes per thread. (Storing the pairs from registers, 4 bytes
//   per thread, took `fused` at qwen3-30b-a3b 4096 tokens 0.898 ms against 0.828 with the
//   unswapped tiles: docs/PERF.md.)
//
// The interface is that of CUTLASS's DefaultEpilogueArray (ptr-array, no TMA: the consumer
// warpgroups store from registers or their staging buffer), wrapped by
// GatedEpilogueAdapter below, so the stock ptr-array kernels run it.
#include <cutlass/arch/barrier.h>
#include <cutlass/cutlass.h>
#include <cutlass/epilogue/collective/detail.hpp>
#include <cutlass/epilogue/dispatch_policy.hpp>
#include <cutlass/epilogue/thread/linear_combination.h>
#include <cutlass/gemm/gemm.h>

#include <cute/tensor.hpp>
#include <type_traits>

#include "moe/activation.hpp"
#include "moe/cuda/gated_layout.cuh"

namespace moebench::grouped_gemm_detail {

template <class ElementD_, class StrideD_, int kStagedTokens = 0>
class GatedActivationEpilogueArray {
  static constexpr bool kSwapped = kStagedTokens > 0;
  // A consumer warpgroup's 64 product rows: 32 outputs, as 4 runs of 8 consecutive outputs.
  static constexpr int kSliceOutputs = 32, kRunOutputs = 8;

 public:
  using EpilogueSchedule = cutlass::epilogue::PtrArrayNoSmemWarpSpecialized;
  using DispatchPolicy = EpilogueSchedule;
  using ElementAccumulator = float;
  using ElementCompute = float;
  using ElementScalar = float;
  using ElementOutput = ElementD_;
  using ElementD = ElementD_;
  using StrideD = StrideD_;
  using InternalStrideD = cute::remove_pointer_t<StrideD>;
  using ElementC = void;  // no source operand
  using StrideC = StrideD_;
  using InternalStrideC = InternalStrideD;
  using GmemElementC = ElementD;
  using GmemTiledCopyC = void;
  using GmemTiledCopyD = void;
  // Named by GemmUniversalAdapter (its EpilogueOutputOp) only; this epilogue does not use it.
  using ThreadEpilogueOp = cutlass::epilogue::thread::LinearCombination<ElementD, 1, float, float>;

  // Swapped: per consumer warpgroup, one 64-row slice [tokens][32 outputs], 64 bytes per token.
  struct Staged {
    alignas(16) ElementD slice[2][(kSwapped ? kStagedTokens : 1) * kSliceOutputs];
  };
  struct NothingStaged {};
  struct SharedStorage : std::conditional_t<kSwapped, Staged, NothingStaged> {};

  struct Arguments {
    ElementD** ptr_D = nullptr;  // per group: its first output row
    int64_t ldd = 0;             // elements between output rows (N / 2)
    Activation activation = Activation::silu;
  };
  using Params = Arguments;

  template <class ProblemShape>
  static constexpr Params to_underlying_arguments(ProblemShape const&, Arguments const& args, void*) {
    return args;
  }
  template <class ProblemShape>
  static size_t get_workspace_size(ProblemShape const&, Arguments const&, int) {
    return 0;
  }
  template <class ProblemShape>
  static cutlass::Status initialize_workspace(ProblemShape const&, Arguments const&, void*, cudaStream_t,
                                              cutlass::CudaHostAdapter* = nullptr) {
    return cutlass::Status::kSuccess;
  }
  template <class ProblemShape>
  static bool can_implement(ProblemShape const&, Arguments const& args) {
    return args.ldd % 64 == 0;  // whole 128-column blocks of the product, 16-byte aligned runs
  }

  CUTLASS_HOST_DEVICE explicit GatedActivationEpilogueArray(Params const& params) : params_(params) {}

  CUTLASS_DEVICE bool is_source_needed() { return false; }

  template <class ProblemShapeMNKL, class BlockShapeMNK, class BlockCoordMNKL, class FrgEngine, class FrgLayout,
            class TiledMma, class ResidueMNK>
  CUTLASS_DEVICE void operator()(ProblemShapeMNKL problem_shape_mnkl, BlockShapeMNK blk_shape_mnk,
                                 BlockCoordMNKL blk_coord_mnkl, cute::Tensor<FrgEngine, FrgLayout> const& accumulators,
                                 TiledMma tiled_mma, ResidueMNK, int thread_idx, char* smem) {
    using namespace cute;
    static_assert(size<0, 0>(FrgLayout{}) == 2 && size<0, 1>(FrgLayout{}) == 2,
                  "expects the Hopper GMMA accumulator layout ((2,2,V),MMA_M,MMA_N)");
    const int M = get<0>(problem_shape_mnkl), N = get<1>(problem_shape_mnkl);
    auto [m_coord, n_coord, k_coord, l_coord] = blk_coord_mnkl;
    // The (row, column) in the group's [M][N] product of each accumulator of this thread.
    Tensor tile_coords =
        local_tile(make_identity_tensor(make_shape(M, N)), take<0, 2>(blk_shape_mnk), make_coord(m_coord, n_coord));
    Tensor coords = tiled_mma.get_thread_slice(thread_idx).partition_C(tile_coords);
    ElementD* out = params_.ptr_D[l_coord];
    if constexpr (kSwapped) {
      static_assert(size<1>(blk_shape_mnk) == kStagedTokens, "the staging holds the tile's token columns");
      static_assert(size(TiledMma{}) == 256, "one staging slice per consumer warpgroup, two of them (cooperative)");
      store_staged(accumulators, coords, M, N, int(n_coord) * kStagedTokens, thread_idx,
                   reinterpret_cast<SharedStorage*>(smem)->slice[thread_idx / 128], out);
    } else {
      store_from_registers(accumulators, coords, M, N, out);
    }
  }

 private:
  // Rows are tokens, columns the interleaved weights: 16 consecutive outputs per thread.
  template <class Acc, class Coords>
  CUTLASS_DEVICE void store_from_registers(Acc const& accumulators, Coords const& coords, int M, int N,
                                           ElementD* out) {
    using namespace cute;
    constexpr int kGroups = decltype(size<0, 2>(accumulators))::value;  // groups of 8 columns per MMA
    static_assert(kGroups % 16 == 0, "whole 128-column blocks per MMA");
    constexpr int kBlocks = kGroups / 16;  // 128-column blocks per MMA
    const Activation act = params_.activation;
    CUTLASS_PRAGMA_UNROLL
    for (int mm = 0; mm < size<1>(accumulators); ++mm) {
      CUTLASS_PRAGMA_UNROLL
      for (int mn = 0; mn < size<2>(accumulators); ++mn) {
        CUTLASS_PRAGMA_UNROLL
        for (int r = 0; r < 2; ++r) {
          CUTLASS_PRAGMA_UNROLL
          for (int block = 0; block < kBlocks; ++block) {
            const int v0 = 16 * block;
            // The block's first column of this thread: 128 * b + 2q.
            const int m = get<0>(coords(make_coord(make_coord(0, r, v0), mm, mn)));
            const int n = get<1>(coords(make_coord(make_coord(0, r, v0), mm, mn)));
            if (m >= M || n >= N) continue;  // rows past the group, blocks past N in a partial tile
            cutlass::Array<ElementD, 16> run;
            CUTLASS_PRAGMA_UNROLL
            for (int v = 0; v < 16; v += 2)
              CUTLASS_PRAGMA_UNROLL
              for (int c = 0; c < 2; ++c)
                run[v + c] = ElementD(gated_activation_fast(
                    act, accumulators(make_coord(make_coord(c, r, v0 + v), mm, mn)),
                    accumulators(make_coord(make_coord(c, r, v0 + v + 1), mm, mn))));
            // Column n (v = 0, c = 0) feeds the first of the thread's 16 outputs.
            uint4* dst = reinterpret_cast<uint4*>(out + int64_t(m) * params_.ldd + gated_column(n).output);
            const uint4* src = reinterpret_cast<const uint4*>(&run);
            dst[0] = src[0];
            dst[1] = src[1];
          }
        }
      }
    }
  }

  // Rows are the interleaved weights, columns the tile's tokens from first_token on. A 64-row
  // slice (a multiple of 64 from the tile's start; one per MMA_M of each warpgroup) holds gate
  // and up rows of 32 outputs of one 128-row block: those with output % 16 in [0, 8) when the
  // slice starts the block, in [8, 16) when it is its second half (gated_column()). Output o of
  // the slice is staged at (o % 64 / 16) * 8 + o % 8, so a 16-byte row of 8 consecutive
  // outputs per token and run.
  template <class Acc, class Coords>
  CUTLASS_DEVICE void store_staged(Acc const& accumulators, Coords const& coords, int M, int N, int first_token,
                                   int thread_idx, ElementD* slice, ElementD* out) {
    using namespace cute;
    static_assert(decltype(size<0, 2>(accumulators))::value * 8 * decltype(size<2>(accumulators))::value ==
                      kStagedTokens,
                  "a warpgroup's accumulators cover the tile's token columns");
    const Activation act = params_.activation;
    const int wg_thread = thread_idx % 128;
    const uint32_t barrier = uint32_t(cutlass::arch::ReservedNamedBarriers::FirstUserBarrier) + thread_idx / 128;
    CUTLASS_PRAGMA_UNROLL
    for (int mm = 0; mm < size<1>(accumulators); ++mm) {
      // The slice's first row: this thread's first accumulator row, rounded down to 64.
      const int slice_row = get<0>(coords(make_coord(make_coord(0, 0, 0), mm, 0))) & ~63;
      // The warpgroup's stores of the previous slice have read the staging.
      cutlass::arch::NamedBarrier::sync(128, barrier);
      CUTLASS_PRAGMA_UNROLL
      for (int mn = 0; mn < size<2>(accumulators); ++mn) {
        CUTLASS_PRAGMA_UNROLL
        for (int v = 0; v < size<0, 2>(accumulators); ++v) {
          const int m = get<0>(coords(make_coord(make_coord(0, 0, v), mm, mn)));  // the gate row
          const int o = int(gated_column(m).output % 64);
          const int staged = (o / 16) * kRunOutputs + o % kRunOutputs;
          CUTLASS_PRAGMA_UNROLL
          for (int c = 0; c < 2; ++c) {
            const int t = get<1>(coords(make_coord(make_coord(c, 0, v), mm, mn))) - first_token;
            slice[t * kSliceOutputs + staged] =
                ElementD(gated_activation_fast(act, accumulators(make_coord(make_coord(c, 0, v), mm, mn)),
                                               accumulators(make_coord(make_coord(c, 1, v), mm, mn))));
          }
        }
      }
      cutlass::arch::NamedBarrier::sync(128, barrier);
      if (slice_row >= M) continue;  // a slice past the weight rows (M is whole 128-row blocks)
      const int64_t first_output = gated_column(slice_row).output;  // the slice's first run's first output
      constexpr int kRuns = kSliceOutputs / kRunOutputs;
      for (int item = wg_thread; item < kStagedTokens * kRuns; item += 128) {
        const int t = item / kRuns, run = item % kRuns;
        if (first_token + t >= N) break;  // tokens past the group
        const uint4 value = *reinterpret_cast<const uint4*>(slice + t * kSliceOutputs + run * kRunOutputs);
        *reinterpret_cast<uint4*>(out + int64_t(first_token + t) * params_.ldd + first_output + 16 * run) = value;
      }
    }
  }

  Params params_;
};

// CUTLASS's adapter for operator-style epilogues, whose tensor-map storage is a second copy of
// the epilogue's shared storage: here that would be the staging buffer twice. This epilogue
// has no tensor maps.
template <class EpilogueOp>
class GatedEpilogueAdapter : public cutlass::epilogue::collective::detail::Sm90TmaWarpSpecializedAdapter<EpilogueOp> {
  using Base = cutlass::epilogue::collective::detail::Sm90TmaWarpSpecializedAdapter<EpilogueOp>;

 public:
  using Base::Base;
  struct TensorMapStorage {};

  CUTLASS_DEVICE auto load_init(typename EpilogueOp::Params const&, TensorMapStorage&, int32_t, int32_t) {
    return cute::make_tuple(nullptr);
  }
  CUTLASS_DEVICE auto store_init(typename EpilogueOp::Params const&, TensorMapStorage&, int32_t, int32_t, int32_t) {
    return cute::make_tuple(nullptr);
  }
  template <bool IsLoad, class ProblemShapeMNKL>
  CUTLASS_DEVICE void tensormaps_perform_update(TensorMapStorage&, typename EpilogueOp::Params const&,
                                                cute::TmaDescriptor const*, ProblemShapeMNKL, int32_t, int32_t) {}
  template <bool IsLoad>
  CUTLASS_DEVICE void tensormaps_cp_fence_release(TensorMapStorage&, cute::TmaDescriptor const*, int32_t) {}
};

}  // namespace moebench::grouped_gemm_detail
