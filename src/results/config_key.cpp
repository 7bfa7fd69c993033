#include "results/config_key.hpp"

#include <fmt/format.h>

namespace moebench {

std::string layer_config_key(int tp_size, int ep_size, const std::string& impl, const std::string& scenario,
                             int64_t num_tokens, const std::string& dtype) {
  return fmt::format("TP{}_EP{}_{}_{}_T{}_{}", tp_size, ep_size, impl, scenario, num_tokens, dtype);
}

std::string model_config_key(int tp_size, int ep_size, const std::string& impl, int64_t batch_size,
                             int64_t input_len, int64_t output_len, const std::string& dtype, int num_layers) {
  return fmt::format("TP{}_EP{}_{}_bs{}_in{}_out{}_{}{}", tp_size, ep_size, impl, batch_size, input_len, output_len,
                     dtype, num_layers > 0 ? fmt::format("_L{}", num_layers) : "");
}

}  // namespace moebench
