#pragma once
// The layouts of layer benchmark results: the terminal table, and the CSV and Markdown that the
// csv and markdown output formats (bench/writers.hpp) write for a `layer` run, from its records
// turned back into results (bench/layer_records.hpp). Pure functions of the results and the
// run's context, so that what is printed, exported and tested is the same text.
//
// Shared conventions: a value that is NaN or infinite (a roofline figure without ceilings, an
// error that was not measured) prints as "-" for people and an empty field in CSV. The terminal
// table and the Markdown group results by scenario, then token count, in the order they were
// run; CSV keeps the results' order, one row each.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/layer_result.hpp"

namespace moebench {

// What the whole run shares: written once at the top of the table and the Markdown (CSV rows carry what they need themselves, so the CSV writer does not read it).
struct LayerReportContext {
  std::string model;  // preset name or config path
  int num_experts = 0;
  int top_k = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int ep_size = 1;
  int tp_size = 1;
  std::string dtype;
  std::string backend;  // cpu | cuda
  std::string device;
  std::string moebench_version;
  std::string date;
  double copy_gbps = NAN;    // measured ceilings; NaN where unknown
  double gemm_tflops = NAN;
  // A parallel run's exchange ceilings on its communicator (dist/bus_bandwidth.hpp), one line;
  // empty for one device.
  std::string exchange_ceilings;
  std::string command_line;
};

// The aligned terminal table (nccl-tests style): '#' comment lines with the context, one
// column header, one row per result with right-aligned numbers; all rows and the header have
// the same width.
std::string format_layer_table(const std::vector<LayerResult>& results, const LayerReportContext& context);

// CSV (RFC 4180 quoting, '\n' line ends): seed 003's 17 columns in its order under its names
// (its throughput_tok_per_sec is the metric throughput_tok_per_s), then ours under the metric
// names of the records.
std::string layer_results_csv(const std::vector<LayerResult>& results, const LayerReportContext& context);

// Markdown in seed 003's layout: one "## Scenario: X, Tokens: N" section per group with a
// Metric | impl... | Speedup table. Speedup = mean latency of the first implementation / the
// fastest other's, among results that did not fail verification.
std::string layer_results_markdown(const std::vector<LayerResult>& results, const LayerReportContext& context);

}  // namespace moebench
