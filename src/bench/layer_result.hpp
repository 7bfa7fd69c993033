#pragma once
// One row of a layer benchmark: an implementation on one scenario and token count.
// Every writer (terminal, CSV, Markdown, JSON) and the results store read this record.
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench/statistics.hpp"
#include "routing/routing.hpp"

namespace moebench {

struct LayerResult {
  // What ran.
  std::string model;       // preset name or config path
  std::string impl;
  std::string scenario;
  std::string backend;     // cpu | cuda
  std::string device;      // CPU model or GPU name
  std::string dtype;
  std::string fp8_scaling;  // fp8 only: block | channel | tensor (core/fp8_scaling.hpp)
  int64_t num_tokens = 0;
  int ep_size = 1;
  int tp_size = 1;
  int num_experts = 0;
  int top_k = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int num_shared_experts = 0;

  // How fast.
  LatencyStats latency_ms;
  double throughput_tok_per_sec = 0;

  // Routing.
  LoadStats load;

  // Work and the roofline (DESIGN.md). NaN where the ceilings are unknown (CPU backend).
  double flops = 0;
  double bytes_min = 0;
  double tflops = 0;            // flops / mean latency
  double gbps = 0;              // bytes_min / mean latency
  double floor_ms = NAN;
  double efficiency = NAN;      // floor_ms / latency p50

  // Correctness: relative error against the fp64 reference over the verified tokens.
  bool verified = false;        // a check ran
  bool verify_passed = false;
  double verify_error = NAN;
  int64_t verify_tokens = 0;    // tokens compared with the reference
  int64_t unwritten_outputs = 0;  // output elements still holding the poison value
  // fp8 only: relative error of the output against the fp64 reference on the bf16 model of the
  // same seed (unquantised weights and activations): what fp8 costs in accuracy. NaN otherwise.
  double fp8_vs_bf16_error = NAN;

  int64_t peak_memory_bytes = 0;
  // How the timed forwards were launched: "graph" (one CUDA graph replay each) or "eager".
  std::string launch = "eager";
  std::vector<std::pair<std::string, double>> counters;  // implementation-specific
};

}  // namespace moebench
