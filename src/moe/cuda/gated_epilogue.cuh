#pragma once
// A CUTLASS collective epilogue for the gate+up grouped GEMM of `fused`: it applies the gated
// activation to the fp32 accumulators and stores act(gate) * up [rows][N/2] directly, so the
// [rows][N] gate+up product is never written to memory nor read back by an activation pass.
//
// The weights' gate and up rows must be interleaved (interleave_gate_up()) so that every
// thread holds both halves of its outputs, and holds them in runs of 16 consecutive outputs
// that it stores as two 16-byte vectors. A Hopper GMMA accumulator fragment is
// ((2,2,V), MMA_M, MMA_N) per thread: two adjacent columns 2q, 2q+1 (q = lane % 4) x rows r and
// r+8 x V groups of 8 columns. In each 128-column block of the product, group v (even) holds
// gate columns and group v+1 the up columns of the same outputs, and the 16 outputs of thread
// q are 16q..16q+15 of the block's 64 (gated_layout.cuh; kGatedBlock in grouped_gemm.cuh).
//
// The interface is that of CUTLASS's DefaultEpilogueArray (ptr-array, no shared memory: the
// consumer warpgroups store from registers), wrapped by the builder's
// Sm90TmaWarpSpecializedAdapter, so the stock ptr-array kernels run it.
#include <cutlass/cutlass.h>
#include <cutlass/epilogue/collective/detail.hpp>
#include <cutlass/epilogue/dispatch_policy.hpp>
#include <cutlass/epilogue/thread/linear_combination.h>
#include <cutlass/gemm/gemm.h>

#include <cute/tensor.hpp>

#include "moe/activation.hpp"
#include "moe/cuda/gated_layout.cuh"

namespace moebench::grouped_gemm_detail {

template <class ElementD_, class StrideD_>
class GatedActivationEpilogueArray {
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

  struct SharedStorage {};
  using TensorMapStorage = SharedStorage;

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
                                 TiledMma tiled_mma, ResidueMNK, int thread_idx, char*) {
    using namespace cute;
    static_assert(size<0, 0>(FrgLayout{}) == 2 && size<0, 1>(FrgLayout{}) == 2 && size<0, 2>(FrgLayout{}) % 16 == 0,
                  "expects the Hopper GMMA accumulator layout ((2,2,V),MMA_M,MMA_N), V a multiple of 16");
    constexpr int kBlocks = size<0, 2>(FrgLayout{}) / 16;  // 128-column blocks per MMA
    const int M = get<0>(problem_shape_mnkl), N = get<1>(problem_shape_mnkl);
    auto [m_coord, n_coord, k_coord, l_coord] = blk_coord_mnkl;
    // The (row, column) in the group's [M][N] product of each accumulator of this thread.
    Tensor tile_coords =
        local_tile(make_identity_tensor(make_shape(M, N)), take<0, 2>(blk_shape_mnk), make_coord(m_coord, n_coord));
    Tensor coords = tiled_mma.get_thread_slice(thread_idx).partition_C(tile_coords);
    ElementD* out = params_.ptr_D[l_coord];
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

 private:
  Params params_;
};

}  // namespace moebench::grouped_gemm_detail
