#pragma once
// Grouped GEMM for expert layers on Hopper: CUTLASS's ptr-array TMA warp-specialised kernels.
//
// For every group g (an expert): D[r] = A[r] . B_g^T for the rows r in [offsets[g],
// offsets[g+1]). A [rows][K] and D [rows][N] are row-major, B is [G][N][K] (K-contiguous, the
// canonical weight layout). Row counts never travel to the host: a setup kernel turns the
// device offsets into CUTLASS's problem shapes and pointer arrays, so run() is asynchronous
// and can be captured in a CUDA graph. bf16 or fp16, fp32 accumulation.
//
// With a gated activation, B is an expert's gate+up projection with its rows interleaved
// (interleave_gate_up()) and D [rows][N/2] = act(gate) * up, computed in the epilogue from the
// fp32 accumulators: the [rows][N] product is never stored. N must be a multiple of
// kGatedBlock (128). On the swapped tilings the epilogue stages its outputs in shared memory
// to store them in 16-byte runs (gated_epilogue.cuh).
//
// Six tilings (grouped_gemm_kernel.cuh): 64-, 128- and 256-row tiles, and the swapped problem
// (weights as rows, 144, 160 or 192 tokens as columns; the 160-column one in two cluster
// shapes) for about a hundred rows per group and more.
// run() picks by the average rows per group, which the host knows (total rows / groups)
// without reading the per-group counts.
#include <cuda_runtime.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>

#include "backend/backend.hpp"
#include "core/dtype.hpp"
#include "core/model_config.hpp"

namespace moebench {

class GroupedGemm {
 public:
  // Which tilings the rule may pick: rows_only leaves out the swapped one, for rows already
  // rounded to the row tiles (tile-rounded), which no tile pads.
  enum class Tilings { any, rows_only };

  // Throws InputError when N or K is not a multiple of 8 (TMA needs 16-byte aligned rows), or,
  // gated, N not a multiple of kGatedBlock.
  GroupedGemm(Backend& backend, DType dtype, int num_groups, int64_t n, int64_t k,
              std::optional<Activation> gated = std::nullopt, Tilings tilings = Tilings::any);
  ~GroupedGemm();
  GroupedGemm(const GroupedGemm&) = delete;
  GroupedGemm& operator=(const GroupedGemm&) = delete;

  // total_rows = offsets[num_groups], as the host knows it (e.g. tokens x top_k).
  void run(const void* a, const void* b, void* d, const int32_t* offsets, int64_t total_rows, cudaStream_t stream);

  // Rows of the tiles run() uses for total_rows: what tile-rounded routing rounds to.
  int tile_rows(int64_t total_rows) const;

  // The tiling by average rows per group R, from the comparisons in docs/PERF.md (H100, four
  // models, R = 16..4096): 64-row tiles below 48; else the tiling that pads less where the
  // group sizes (R +- sqrt(R)) fall: 128-row tiles around R = 64, 256-row tiles around
  // R = 128, where one M tile per expert also reads its weights once. The swapped tiles pad
  // less from R = 96 on: 160 token columns for R in [96, 144) (the token tile multicast to
  // four weight tiles instead of two from 256 groups on) and 192 for R in [144, 192), each
  // group over the tile's width going to 256-row tiles in a second kernel (the split is made on
  // the device, from the counts), since a second token tile would read the group's weight
  // tiles again; 144 token columns from R = 192 (two cover 256 +- 16 rows, four 512 +- 22).
  // The gated epilogue takes the swapped tiles below R = 640 only (kGatedTokenColumnsBelow):
  // at R = 384 and 512 they pad less than the 256-row tiles (at 384 +- 20, three 144-column
  // tiles against two 256-row ones) and were faster at 5 of 7 shapes; at R = 768 they were
  // mixed and at 1024 slower: the padding is about equal there and the staged stores cost more
  // (PERF.md).
  // MOEBENCH_GROUPED_TILES=small|medium|large|columns|mid-columns|mid-columns-4|wide-columns
  // overrides the choice.
  static constexpr int64_t kSmallTilesBelow = 48;
  static constexpr int64_t kMediumBands[2][2] = {{48, 96}, {192, 384}};  // [from, below)
  static constexpr int64_t kTokenColumnsFrom = 192, kWideTokenColumnsFrom = 144, kMidTokenColumnsFrom = 96;
  static constexpr int kMidClusterOf4FromGroups = 256;
  static constexpr int64_t kGatedTokenColumnsBelow = 640;
  static constexpr int kSmallTileRows = 64, kMediumTileRows = 128, kLargeTileRows = 256;
  // The swapped tilings' token columns (TokenColumnTiles, MidTokenColumnTiles,
  // WideTokenColumnTiles in grouped_gemm_kernel.cuh).
  static constexpr int kTokenColumnTile = 144, kMidTokenColumnTile = 160, kWideTokenColumnTile = 192;
  // The gated epilogue's unit: 128 interleaved gate/up rows give 64 outputs.
  static constexpr int64_t kGatedBlock = 128;

  // The groups a kernel runs, by their row count (inclusive); the others it gives no rows.
  struct GroupRows {
    int min = 0, max = std::numeric_limits<int>::max();
  };

  // One CUTLASS instantiation (grouped_gemm_{bf16,fp16}.cu).
  struct Kernel {
    virtual ~Kernel() = default;
    virtual void run(const void* a, const void* b, void* d, const int32_t* offsets, GroupRows take,
                     cudaStream_t stream) = 0;
  };
  struct Kernels {
    std::unique_ptr<Kernel> small_tiles, medium_tiles, large_tiles;
    // The swapped tilings.
    std::unique_ptr<Kernel> token_column_tiles, mid_token_column_tiles, mid_token_column_tiles_cluster4,
        wide_token_column_tiles;
  };

 private:
  enum class TileChoice {
    by_rows,
    small,
    medium,
    large,
    token_columns,
    mid_token_columns,
    mid_token_columns_cluster4,
    wide_token_columns
  };
  // The tiling for total_rows: the forced one, or by the average rows per group.
  TileChoice tiles_for(int64_t total_rows) const;
  // The groups of up to `width` rows on `narrow` (a swapped tiling), the others on 256-row tiles.
  void run_split(Kernel& narrow, int width, const void* a, const void* b, void* d, const int32_t* offsets,
                 cudaStream_t stream);

  int num_groups_;
  bool gated_;
  Tilings tilings_;
  Kernels kernels_;
  TileChoice choice_ = TileChoice::by_rows;
};

}  // namespace moebench
