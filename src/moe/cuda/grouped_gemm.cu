#include "moe/cuda/grouped_gemm.cuh"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>

#include "core/errors.hpp"

namespace moebench {

GroupedGemm::Kernels make_grouped_gemm_kernels_bf16(Backend& backend, int groups, int64_t n, int64_t k);
GroupedGemm::Kernels make_grouped_gemm_kernels_fp16(Backend& backend, int groups, int64_t n, int64_t k);
GroupedGemm::Kernels make_gated_grouped_gemm_kernels_bf16(Backend& backend, int groups, int64_t n, int64_t k,
                                                          Activation activation);
GroupedGemm::Kernels make_gated_grouped_gemm_kernels_fp16(Backend& backend, int groups, int64_t n, int64_t k,
                                                          Activation activation);

GroupedGemm::GroupedGemm(Backend& backend, DType dtype, int num_groups, int64_t n, int64_t k,
                         std::optional<Activation> gated, Tilings tilings)
    : num_groups_(num_groups), gated_(gated.has_value()), tilings_(tilings) {
  if (n % 8 != 0 || k % 8 != 0)
    throw InputError("the CUTLASS grouped GEMM needs hidden and intermediate sizes that are multiples of 8 (got N=" +
                     std::to_string(n) + ", K=" + std::to_string(k) + "); use --impl naive");
  if (gated && n % kGatedBlock != 0)
    throw InputError("the gated grouped GEMM needs N a multiple of " + std::to_string(kGatedBlock) +
                     " (got N=" + std::to_string(n) + ")");
  if (dtype != DType::bf16 && dtype != DType::fp16) throw InputError("the CUTLASS grouped GEMM runs bf16 or fp16");
  const bool bf16 = dtype == DType::bf16;
  if (gated)
    kernels_ = bf16 ? make_gated_grouped_gemm_kernels_bf16(backend, num_groups, n, k, *gated)
                    : make_gated_grouped_gemm_kernels_fp16(backend, num_groups, n, k, *gated);
  else
    kernels_ = bf16 ? make_grouped_gemm_kernels_bf16(backend, num_groups, n, k)
                    : make_grouped_gemm_kernels_fp16(backend, num_groups, n, k);
  if (const char* forced = std::getenv("MOEBENCH_GROUPED_TILES")) {
    static constexpr std::pair<std::string_view, TileChoice> kNames[] = {
        {"small", TileChoice::small},
        {"medium", TileChoice::medium},
        {"large", TileChoice::large},
        {"columns", TileChoice::token_columns},
        {"mid-columns", TileChoice::mid_token_columns},
        {"mid-columns-4", TileChoice::mid_token_columns_cluster4},
        {"wide-columns", TileChoice::wide_token_columns}};
    const std::string_view v = forced;
    const auto* named = std::find_if(std::begin(kNames), std::end(kNames), [&](const auto& n) { return n.first == v; });
    if (named != std::end(kNames))
      choice_ = named->second;
    else if (!v.empty())
      throw InputError("MOEBENCH_GROUPED_TILES=" + std::string(v) +
                       ": use small, medium, large, columns, mid-columns, mid-columns-4 or wide-columns (or unset it)");
  }
}

GroupedGemm::~GroupedGemm() = default;

GroupedGemm::TileChoice GroupedGemm::tiles_for(int64_t total_rows) const {
  if (choice_ != TileChoice::by_rows) return choice_;
  const int64_t g = num_groups_;
  if (total_rows < kSmallTilesBelow * g) return TileChoice::small;
  const bool swapped_allowed = tilings_ == Tilings::any && !(gated_ && total_rows >= kGatedTokenColumnsBelow * g);
  if (swapped_allowed) {
    if (total_rows >= kTokenColumnsFrom * g) return TileChoice::token_columns;
    if (total_rows >= kWideTokenColumnsFrom * g) return TileChoice::wide_token_columns;
    if (total_rows >= kMidTokenColumnsFrom * g)
      return num_groups_ >= kMidClusterOf4FromGroups ? TileChoice::mid_token_columns_cluster4
                                                     : TileChoice::mid_token_columns;
  }
  for (const auto& band : kMediumBands)
    if (total_rows >= band[0] * g && total_rows < band[1] * g) return TileChoice::medium;
  return TileChoice::large;
}

int GroupedGemm::tile_rows(int64_t total_rows) const {
  switch (tiles_for(total_rows)) {
    case TileChoice::large: return kLargeTileRows;
    case TileChoice::medium: return kMediumTileRows;
    case TileChoice::token_columns: return kTokenColumnTile;
    case TileChoice::mid_token_columns:
    case TileChoice::mid_token_columns_cluster4: return kMidTokenColumnTile;
    case TileChoice::wide_token_columns: return kWideTokenColumnTile;
    default: return kSmallTileRows;
  }
}

void GroupedGemm::run(const void* a, const void* b, void* d, const int32_t* offsets, int64_t total_rows,
                      cudaStream_t stream) {
  const GroupRows all;
  switch (tiles_for(total_rows)) {
    case TileChoice::large: kernels_.large_tiles->run(a, b, d, offsets, all, stream); break;
    case TileChoice::medium: kernels_.medium_tiles->run(a, b, d, offsets, all, stream); break;
    case TileChoice::token_columns: kernels_.token_column_tiles->run(a, b, d, offsets, all, stream); break;
    case TileChoice::mid_token_columns:
      run_split(*kernels_.mid_token_column_tiles, kMidTokenColumnTile, a, b, d, offsets, stream);
      break;
    case TileChoice::mid_token_columns_cluster4:
      run_split(*kernels_.mid_token_column_tiles_cluster4, kMidTokenColumnTile, a, b, d, offsets, stream);
      break;
    case TileChoice::wide_token_columns:
      run_split(*kernels_.wide_token_column_tiles, kWideTokenColumnTile, a, b, d, offsets, stream);
      break;
    default: kernels_.small_tiles->run(a, b, d, offsets, all, stream); break;
  }
}

void GroupedGemm::run_split(Kernel& narrow, int width, const void* a, const void* b, void* d, const int32_t* offsets,
                            cudaStream_t stream) {
  // Groups that fit one token tile run swapped, the rest (a group wider than the tile would
  // read its weight tiles once per token tile) on 256-row tiles, chosen on the device.
  narrow.run(a, b, d, offsets, {0, width}, stream);
  kernels_.large_tiles->run(a, b, d, offsets, {width + 1, GroupRows{}.max}, stream);
}

}  // namespace moebench
