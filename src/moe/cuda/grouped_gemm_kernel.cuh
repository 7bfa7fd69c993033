#pragma once
// The CUTLASS instantiations behind GroupedGemm, as templates over the element type and the
// tiling; each dtype is compiled in its own .cu file (over a minute each on two cores).
//
// Six tilings, because the rows per expert range from one (decode) to thousands (prefill):
// - LargeTiles: 256x128x64 tiles, a 1x2 cluster, the cooperative ptr-array schedule (two
//   consumer warpgroups share each 256-row tile; TMA multicast of A across the cluster), the
//   configuration DESIGN.md measured at 578-785 TFLOP/s on an H100.
// - MediumTiles: 128x256x64 tiles, cooperative, 1x2 cluster: half the row padding of the
//   256-row tiles for groups of a few hundred rows, the same 256x... work per CTA.
// - SmallTiles: 64x128x64 tiles, ping-pong schedule (the two consumer warpgroups alternate
//   tiles, one's epilogue hiding under the other's MMAs). A group of a few rows pads to 64,
//   not 256: with 4 rows per expert the 256-row tile spends more time multiplying padding
//   than streaming the weights.
// - TokenColumnTiles, MidTokenColumnTiles, WideTokenColumnTiles: the swapped problem, the
//   weights as rows and the tokens as 144, 160 or 192 columns (below).
// The epilogue has no C source (D = acc), so it reads nothing. The gated variant
// (GroupedGemm's gated activation) stores act(gate) * up instead: from registers on the row
// tilings, through a shared-memory staging buffer on the swapped ones (gated_epilogue.cuh).
// CuTe picks the MMA instruction by the tile's N; without this it knows only the power-of-two
// widths and would run a 144-wide tile as nine 16-wide instructions, re-reading A each time.
#define CUTE_SM90_EXTENDED_MMA_SHAPES_ENABLED
#include <cutlass/cutlass.h>
#include <cutlass/epilogue/collective/collective_builder.hpp>
#include <cutlass/gemm/collective/collective_builder.hpp>
#include <cutlass/gemm/device/gemm_universal_adapter.h>
#include <cutlass/gemm/group_array_problem_shape.hpp>
#include <cutlass/gemm/kernel/gemm_universal.hpp>
#include <cutlass/util/packed_stride.hpp>

#include <memory>
#include <string>
#include <vector>

#include "backend/cuda_backend.hpp"
#include "backend/cuda_check.hpp"
#include "core/errors.hpp"
#include "moe/cuda/gated_epilogue.cuh"
#include "moe/cuda/grouped_gemm.cuh"

namespace moebench::grouped_gemm_detail {

using namespace cute;

struct LargeTiles {
  static constexpr bool kTokensAsColumns = false;
  using EpilogueTile = cutlass::epilogue::collective::EpilogueTileAuto;
  using Tile = Shape<Int<GroupedGemm::kLargeTileRows>, _128, _64>;
  using Cluster = Shape<_1, _2, _1>;
  using MainloopSchedule = cutlass::gemm::KernelPtrArrayTmaWarpSpecializedCooperative;
  using EpilogueSchedule = cutlass::epilogue::PtrArrayTmaWarpSpecializedCooperative;
};

struct MediumTiles {
  static constexpr bool kTokensAsColumns = false;
  using EpilogueTile = cutlass::epilogue::collective::EpilogueTileAuto;
  using Tile = Shape<Int<GroupedGemm::kMediumTileRows>, _256, _64>;
  using Cluster = Shape<_1, _2, _1>;
  using MainloopSchedule = cutlass::gemm::KernelPtrArrayTmaWarpSpecializedCooperative;
  using EpilogueSchedule = cutlass::epilogue::PtrArrayTmaWarpSpecializedCooperative;
};

struct SmallTiles {
  static constexpr bool kTokensAsColumns = false;
  using EpilogueTile = cutlass::epilogue::collective::EpilogueTileAuto;
  using Tile = Shape<Int<GroupedGemm::kSmallTileRows>, _128, _64>;
  using Cluster = Shape<_1, _1, _1>;
  using MainloopSchedule = cutlass::gemm::KernelPtrArrayTmaWarpSpecializedPingpong;
  using EpilogueSchedule = cutlass::epilogue::PtrArrayTmaWarpSpecializedPingpong;
};

// The swapped problem D^T = B_g . A^T: the weights are the tile's rows and the tokens its
// columns. A tile's column count can be any multiple of 8 while its row count must be a
// multiple of 64 per warpgroup, so with the tokens as columns the padding can shrink:
// - TokenColumnTiles: 256 weight rows x 144 tokens. An expert of 256 +- 16 rows runs in two
//   tiles (288) instead of three 128-row tiles (384), one of 512 +- 22 in four (576) instead of
//   three 256-row tiles (768).
// - MidTokenColumnTiles, WideTokenColumnTiles: 128 weight rows x 160 or 192 tokens, for about
//   128 or 160 rows per expert: one tile holds experts up to its width, where a 256-row tile is
//   half padding. A group over the width would take a second token tile, which reads the
//   weight tile again once the persistent CTAs drift apart (PERF.md), so such groups run on
//   256-row tiles (GroupedGemm's split); 128 weight rows keep the tile count of the 256-row
//   tiles, whose 128-column weight tiles fill the GPU in more waves than 256-row ones.
// D^T is column-major, which is D row-major: the output is the same [rows][N] as the other
// tilings'. A 2x1 cluster (4x1 for MidTokenColumnTilesCluster4) multicasts the token tile to
// the CTAs of neighbouring weight tiles.
template <int kWeightRows, int kTokens, class EpilogueTile_, int kClusterM = 2>
struct SwappedTiles {
  static constexpr bool kTokensAsColumns = true;
  using EpilogueTile = EpilogueTile_;
  using Tile = Shape<Int<kWeightRows>, Int<kTokens>, _64>;
  using Cluster = Shape<Int<kClusterM>, _1, _1>;
  using MainloopSchedule = cutlass::gemm::KernelPtrArrayTmaWarpSpecializedCooperative;
  using EpilogueSchedule = cutlass::epilogue::PtrArrayTmaWarpSpecializedCooperative;
};
// CUTLASS's automatic epilogue tile for 144 columns, 128x16 (the largest power of two up to 32
// dividing 144), would store each tile in 18 steps.
using TokenColumnTiles = SwappedTiles<256, GroupedGemm::kTokenColumnTile, Shape<_128, _48>>;
// 160 columns, with the 128x32 epilogue tile it was measured with (PERF.md).
using MidTokenColumnTiles = SwappedTiles<128, GroupedGemm::kMidTokenColumnTile, Shape<_128, _32>>;
// The same with the token tile multicast to four weight tiles: less L2 traffic for the token
// tiles, which pays from 256 experts on (deepseek-v3, kimi-k2: 3-4%) but costs mixtral-8x7b's
// 8 experts 4% (clusters of four leave SMs idle); PERF.md.
using MidTokenColumnTilesCluster4 = SwappedTiles<128, GroupedGemm::kMidTokenColumnTile, Shape<_128, _32>, 4>;
using WideTokenColumnTiles =
    SwappedTiles<128, GroupedGemm::kWideTokenColumnTile, cutlass::epilogue::collective::EpilogueTileAuto>;

// What the epilogue writes: the product D [rows][N], or the gated activation [rows][N/2].
enum class Output { product, gated };

template <typename Element, typename Tiling, Output kOutput>
struct Config {
  using ProblemShape = cutlass::gemm::GroupProblemShape<Shape<int, int, int>>;
  static constexpr bool kSwapped = Tiling::kTokensAsColumns;
  // Unswapped: A = activations [rows][K], B = weights [N][K] (K-contiguous), D = [rows][N]
  // row-major. Swapped: A = weights [N][K], B = activations, D^T [N][rows] column-major.
  using LayoutA = cutlass::layout::RowMajor;
  using LayoutB = cutlass::layout::ColumnMajor;
  using LayoutD = std::conditional_t<kSwapped, cutlass::layout::ColumnMajor, cutlass::layout::RowMajor>;
  static constexpr int kAlignment = 128 / cutlass::sizeof_bits<Element>::value;
  using TileShape = typename Tiling::Tile;
  using ClusterShape = typename Tiling::Cluster;

  using ProductEpilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape, typename Tiling::EpilogueTile, float, float, void, LayoutD*, kAlignment, Element,
      LayoutD*, kAlignment, typename Tiling::EpilogueSchedule,
      cutlass::epilogue::fusion::LinearCombination<Element, float>>::CollectiveOp;
  // Swapped, the gated epilogue stages the tile's token columns in shared memory.
  using GatedEpilogue = GatedEpilogueAdapter<GatedActivationEpilogueArray<
      Element, cutlass::detail::TagToStrideC_t<LayoutD*>, kSwapped ? int(size<1>(TileShape{})) : 0>>;
  using Epilogue = std::conditional_t<kOutput == Output::gated, GatedEpilogue, ProductEpilogue>;

  using Mainloop = typename cutlass::gemm::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, Element, LayoutA*, kAlignment, Element, LayoutB*,
      kAlignment, float, TileShape, ClusterShape,
      cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(sizeof(typename Epilogue::SharedStorage))>,
      typename Tiling::MainloopSchedule>::CollectiveOp;

  using Kernel = cutlass::gemm::kernel::GemmUniversal<ProblemShape, Mainloop, Epilogue>;
  using Gemm = cutlass::gemm::device::GemmUniversalAdapter<Kernel>;
  using UnderlyingShape = typename ProblemShape::UnderlyingProblemShape;
  using StrideA = typename Kernel::InternalStrideA;
  using StrideB = typename Kernel::InternalStrideB;
  using StrideD = typename Kernel::InternalStrideD;
};

// One thread per group: shapes and pointers of every group from the expert offsets. D's rows
// are d_cols apart (N, or N/2 for the gated activation). Swapped, the weights are CUTLASS's A
// and the activations its B. Groups whose rows fall outside `take` get none: another kernel
// runs them.
template <bool kSwapped, typename Element, typename Shape3>
__global__ void setup_groups_kernel(int num_groups, int n, int k, int d_cols, const int32_t* offsets,
                                    GroupedGemm::GroupRows take, const Element* a, const Element* b, Element* d,
                                    Shape3* problems, const Element** ptr_a, const Element** ptr_b, Element** ptr_d) {
  int g = blockIdx.x * blockDim.x + threadIdx.x;
  if (g >= num_groups) return;
  int begin = offsets[g], rows = offsets[g + 1] - begin;
  if (rows < take.min || rows > take.max) rows = 0;
  const Element* activations = a + int64_t(begin) * k;
  const Element* weights = b + int64_t(g) * n * k;
  problems[g] = kSwapped ? Shape3{n, rows, k} : Shape3{rows, n, k};
  ptr_a[g] = kSwapped ? weights : activations;
  ptr_b[g] = kSwapped ? activations : weights;
  ptr_d[g] = d + int64_t(begin) * d_cols;
}

template <typename Element, typename Tiling, Output kOutput>
class TypedGroupedGemm : public GroupedGemm::Kernel {
  using C = Config<Element, Tiling, kOutput>;

 public:
  TypedGroupedGemm(Backend& backend, int num_groups, int64_t n, int64_t k, Activation activation)
      : num_groups_(num_groups), n_(int(n)), k_(int(k)), d_cols_(kOutput == Output::gated ? n_ / 2 : n_),
        activation_(activation) {
    const size_t G = size_t(num_groups);
    problems_ = DeviceBuffer(backend, G * sizeof(typename C::UnderlyingShape));
    ptr_a_ = DeviceBuffer(backend, G * sizeof(void*));
    ptr_b_ = DeviceBuffer(backend, G * sizeof(void*));
    ptr_d_ = DeviceBuffer(backend, G * sizeof(void*));
    // Strides depend only on N and K, the same for every group: written once. (A and B are
    // K-contiguous either way; D's leading dimension is N either way.)
    std::vector<typename C::StrideA> sa(G, cutlass::make_cute_packed_stride(typename C::StrideA{}, {1, k_, 1}));
    std::vector<typename C::StrideB> sb(G, cutlass::make_cute_packed_stride(typename C::StrideB{}, {1, k_, 1}));
    std::vector<typename C::StrideD> sd(
        G, cutlass::make_cute_packed_stride(typename C::StrideD{}, C::kSwapped ? cute::make_shape(n_, 1, 1)
                                                                               : cute::make_shape(1, n_, 1)));
    stride_a_ = DeviceBuffer(backend, G * sizeof(typename C::StrideA));
    stride_b_ = DeviceBuffer(backend, G * sizeof(typename C::StrideB));
    stride_d_ = DeviceBuffer(backend, G * sizeof(typename C::StrideD));
    backend.copy_to_device(stride_a_.get(), sa.data(), G * sizeof(typename C::StrideA));
    backend.copy_to_device(stride_b_.get(), sb.data(), G * sizeof(typename C::StrideB));
    backend.copy_to_device(stride_d_.get(), sd.data(), G * sizeof(typename C::StrideD));

    hw_info_.device_id = 0;
    MB_CUDA_CHECK(cudaGetDevice(&hw_info_.device_id));
    hw_info_.sm_count = cuda_sm_count(backend);
    typename C::Gemm::Arguments args = arguments();
    workspace_ = DeviceBuffer(backend, std::max<size_t>(C::Gemm::get_workspace_size(args), 1));
    cutlass::Status status = gemm_.can_implement(args);
    if (status != cutlass::Status::kSuccess)
      throw RuntimeFailure(FailureKind::CudaError, std::string("grouped GEMM cannot run N=") + std::to_string(n) +
                                                       " K=" + std::to_string(k) + ": " +
                                                       cutlassGetStatusString(status));
  }

  void run(const void* a, const void* b, void* d, const int32_t* offsets, GroupedGemm::GroupRows take,
           cudaStream_t stream) override {
    setup_groups_kernel<C::kSwapped, Element, typename C::UnderlyingShape><<<(num_groups_ + 127) / 128, 128, 0, stream>>>(
        num_groups_, n_, k_, d_cols_, offsets, take, static_cast<const Element*>(a), static_cast<const Element*>(b),
        static_cast<Element*>(d), problems_.as<typename C::UnderlyingShape>(), ptr_a_.as<const Element*>(),
        ptr_b_.as<const Element*>(), ptr_d_.as<Element*>());
    MB_CUDA_CHECK_LAUNCH();
    typename C::Gemm::Arguments args = arguments();
    check(gemm_.initialize(args, workspace_.get(), stream), "initialize");
    check(gemm_.run(stream), "run");
    MB_CUDA_CHECK_LAUNCH();
  }

 private:
  typename C::Gemm::Arguments arguments() {
    typename C::Gemm::Arguments args;
    args.mode = cutlass::gemm::GemmUniversalMode::kGrouped;
    // Problem shapes live on the device only (no host copy): the kernel reads them there.
    args.problem_shape = {num_groups_, problems_.as<typename C::UnderlyingShape>(), nullptr};
    args.mainloop = {ptr_a_.as<const Element*>(), stride_a_.as<typename C::StrideA>(), ptr_b_.as<const Element*>(),
                     stride_b_.as<typename C::StrideB>()};
    if constexpr (kOutput == Output::gated) {
      args.epilogue.ptr_D = ptr_d_.as<Element*>();
      args.epilogue.ldd = d_cols_;
      args.epilogue.activation = activation_;
    } else {
      args.epilogue.ptr_C = nullptr;
      args.epilogue.dC = stride_d_.as<typename C::StrideD>();
      args.epilogue.ptr_D = ptr_d_.as<Element*>();
      args.epilogue.dD = stride_d_.as<typename C::StrideD>();
      auto& fusion = args.epilogue.thread;
      fusion.alpha = 1.0f;
      fusion.beta = 0.0f;
      fusion.alpha_ptr = nullptr;
      fusion.beta_ptr = nullptr;
      fusion.alpha_ptr_array = nullptr;
      fusion.beta_ptr_array = nullptr;
      fusion.dAlpha = {cute::_0{}, cute::_0{}, 0};
      fusion.dBeta = {cute::_0{}, cute::_0{}, 0};
    }
    args.hw_info = hw_info_;
    // CUTLASS walks a group's tiles along M by default, which keeps one weight tile in L2 while
    // the token tiles pass when the tokens are M. Swapped, the tokens are N.
    if constexpr (C::kSwapped) args.scheduler.raster_order = decltype(args.scheduler.raster_order)::AlongN;
    return args;
  }

  static void check(cutlass::Status status, const char* what) {
    if (status != cutlass::Status::kSuccess)
      throw RuntimeFailure(FailureKind::CudaError,
                           std::string("CUTLASS grouped GEMM ") + what + ": " + cutlassGetStatusString(status));
  }

  int num_groups_, n_, k_, d_cols_;
  Activation activation_;
  cutlass::KernelHardwareInfo hw_info_;
  typename C::Gemm gemm_;
  DeviceBuffer problems_, ptr_a_, ptr_b_, ptr_d_, stride_a_, stride_b_, stride_d_, workspace_;
};

template <typename Element, Output kOutput>
GroupedGemm::Kernels make_typed(Backend& backend, int groups, int64_t n, int64_t k, Activation activation) {
  GroupedGemm::Kernels kernels;
  kernels.small_tiles = std::make_unique<TypedGroupedGemm<Element, SmallTiles, kOutput>>(backend, groups, n, k, activation);
  kernels.medium_tiles =
      std::make_unique<TypedGroupedGemm<Element, MediumTiles, kOutput>>(backend, groups, n, k, activation);
  kernels.large_tiles = std::make_unique<TypedGroupedGemm<Element, LargeTiles, kOutput>>(backend, groups, n, k, activation);
  kernels.token_column_tiles =
      std::make_unique<TypedGroupedGemm<Element, TokenColumnTiles, kOutput>>(backend, groups, n, k, activation);
  kernels.mid_token_column_tiles =
      std::make_unique<TypedGroupedGemm<Element, MidTokenColumnTiles, kOutput>>(backend, groups, n, k, activation);
  kernels.mid_token_column_tiles_cluster4 = std::make_unique<TypedGroupedGemm<Element, MidTokenColumnTilesCluster4, kOutput>>(
      backend, groups, n, k, activation);
  kernels.wide_token_column_tiles =
      std::make_unique<TypedGroupedGemm<Element, WideTokenColumnTiles, kOutput>>(backend, groups, n, k, activation);
  return kernels;
}

}  // namespace moebench::grouped_gemm_detail
