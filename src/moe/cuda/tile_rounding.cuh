#pragma once
// Tile-aware token rounding on the GPU (SonicMoE; seed 004): the rule of
// src/routing/tile_rounding.hpp, exact to the CPU's decisions, applied to the routing and
// permutation already on the device, with no host synchronisation.
//
// Per expert (one block each): a count c with r = c mod m either drops its r weakest
// assignments (r <= m/2, c >= m), adds the m - r strongest tokens that do not route to it
// (r > m/2, enough such tokens), or stays. "Strength" is the router logit, ties to the lower
// token, found by an exact radix select over 64-bit (logit, token) keys. The result is a
// rounded expert-ordered layout: per-expert offsets (rows in use = offsets[E], on the device),
// the token of every row, each slot's row (-1 when dropped) and the added rows sorted by
// token for the combine (ExtraRows).
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/backend.hpp"
#include "core/model_config.hpp"
#include "moe/cuda/permute.cuh"

namespace moebench {

struct RoundingStats {
  int64_t dropped = 0;              // assignments removed
  int64_t added = 0;                // assignments added
  int64_t padding_rows_before = 0;  // sum over experts of ceil(c/m)*m - c
  int64_t padding_rows_after = 0;
};

class TileRounder {
 public:
  // Workspaces for up to max_tokens and tiles of up to max_tile_rows rows.
  TileRounder(Backend& backend, const ModelConfig& model, int64_t max_tokens, int max_tile_rows);

  // Rows the experts may gain at most, together, with `num_tokens` tokens and tiles of up to
  // `tile_rows` rows: the rows beyond T*k that the rounded layout may use.
  static int64_t max_added_rows(int num_experts, int64_t num_tokens, int tile_rows);

  // From logits [T][E], the routing (ids, weights [T][k]) and its permutation: the rounded
  // layout for tiles of `tile_rows` rows.
  void round(const float* logits, const int32_t* ids, const float* weights, const ExpertPermutation& permutation,
             int64_t num_tokens, int tile_rows, cudaStream_t stream);

  const int32_t* offsets() const { return offsets_.as<int32_t>(); }        // [E+1]; offsets[E] = rows in use
  const int32_t* rows_in_use() const { return offsets() + num_experts_; }  // device scalar
  const int32_t* row_tokens() const { return row_tokens_.as<int32_t>(); }  // [rows]: token of each row
  const int32_t* slot_rows() const { return slot_rows_.as<int32_t>(); }    // [T*k]: -1 where dropped
  ExtraRows added_rows() const;                                            // sorted by token

  // Totals of the last round(); copies from the device (call after the stream finished).
  RoundingStats stats() const;

 private:
  int num_experts_, top_k_;
  bool sigmoid_;
  int64_t max_tokens_, max_slots_;
  int per_expert_capacity_;  // added rows one expert may hold
  int64_t added_capacity_;   // E * per_expert_capacity_
  int token_bits_;           // bits of a token index, num_tokens (the sentinel) included
  size_t bitmap_bytes_;      // shared memory of the add search: one bit per token
  DeviceBuffer new_counts_, offsets_, drop_row_, row_tokens_, slot_rows_;
  DeviceBuffer added_tokens_, added_weights_, added_rows_, entry_iota_;
  DeviceBuffer sorted_tokens_, sorted_entries_, sorted_rows_, sorted_weights_;
  DeviceBuffer stats_, sort_temp_;
  size_t sort_temp_bytes_ = 0;
};

}  // namespace moebench
