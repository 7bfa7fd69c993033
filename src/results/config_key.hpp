#pragma once
// Seed 002's "config" half of the key "model::config": "TP8_EP2_auto", then whatever else tells
// two runs of the same model apart. The command that records a run and `sweep`, which records
// a failure for a child that died before it could, build the key with the same function.
#include <cstdint>
#include <string>

namespace moebench {

// A layer row: "TP1_EP1_grouped_random_T512_bf16".
std::string layer_config_key(int tp_size, int ep_size, const std::string& impl, const std::string& scenario,
                             int64_t num_tokens, const std::string& dtype);

// An end-to-end model run: "TP8_EP2_auto_bs1_in4096_out512_bf16", and "..._L4" for a run of the
// first 4 layers only (`num_layers` 0: the whole model), so that a truncated run never stands
// as the whole model's result.
std::string model_config_key(int tp_size, int ep_size, const std::string& impl, int64_t batch_size,
                             int64_t input_len, int64_t output_len, const std::string& dtype, int num_layers);

}  // namespace moebench
