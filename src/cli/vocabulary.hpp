#pragma once
// One vocabulary for every subcommand: each idea that several commands take is declared here
// once, with one name, one help text and the other spellings users type as aliases, so that
// `layer`, `model`, `memory`, `report` and `sweep` cannot drift apart again. The aliases are the
// names users know from vLLM and SGLang's tools (`--tp`, `-tp`, `--tensor-parallel-size`,
// `--ep`), from our own earlier flags (`--warmup-runs`, `--moe-impl`, `--format`) and from the
// AWS Neuron (NxDI) configs. README.md lists them.
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace moebench::cli {

// --tp-size (aliases --tp, -tp, --tensor-parallel-size, --tp-degree): devices in all.
template <typename T>
CLI::Option* add_tp_size(CLI::App& app, T& value, const std::string& help) {
  return app.add_option("--tp-size,--tp,--tensor-parallel-size,--tp-degree", value, help);
}
// --ep-size (aliases --ep, -ep, --expert-parallel-size, --moe-ep-degree): expert-parallel groups.
template <typename T>
CLI::Option* add_ep_size(CLI::App& app, T& value, const std::string& help) {
  return app.add_option("--ep-size,--ep,--expert-parallel-size,--moe-ep-degree", value, help);
}
// --input-len / --output-len: prompt and generated tokens per sequence.
template <typename T>
CLI::Option* add_input_len(CLI::App& app, T& value, const std::string& help) {
  return app.add_option("--input-len", value, help);
}
template <typename T>
CLI::Option* add_output_len(CLI::App& app, T& value, const std::string& help) {
  return app.add_option("--output-len", value, help);
}
// --warmup-iters / --benchmark-iters (aliases --warmup-runs / --benchmark-runs): a layer's
// iteration and a model's run (prefill + decode of the batch) are both one timed repetition.
template <typename T>
CLI::Option* add_warmup_iters(CLI::App& app, T& value, const std::string& help) {
  return app.add_option("--warmup-iters,--warmup-runs", value, help);
}
template <typename T>
CLI::Option* add_benchmark_iters(CLI::App& app, T& value, const std::string& help) {
  return app.add_option("--benchmark-iters,--benchmark-runs", value, help);
}
// --impl (alias --moe-impl): the MoE layer implementation(s).
template <typename T>
CLI::Option* add_impl(CLI::App& app, T& value, const std::string& help) {
  return app.add_option("--impl,--moe-impl", value, help);
}
// --output-format (alias --format): what a command writes.
template <typename T>
CLI::Option* add_output_format(CLI::App& app, T& value, const std::string& help) {
  return app.add_option("--output-format,--format", value, help);
}
// --chunked-prefill-size: most prompt tokens per prefill step (SGLang's flag).
template <typename T>
CLI::Option* add_chunked_prefill_size(CLI::App& app, T& value, const std::string& help) {
  return app.add_option("--chunked-prefill-size", value, help);
}

// The help of --impl: what `intro` says, then every implementation compiled into this binary
// with its one-line description, one per line, so that `--help` tells what exists.
std::string impl_help(const std::string& intro);
// The help of --backend, saying where this build has no CUDA backend.
std::string backend_help();
// The help of `model`'s --tp-size / --ep-size, saying what this build runs.
std::string tp_size_help();
std::string ep_size_help();

// The command line with vLLM's single-dash long forms spelled as CLI11 reads them: `-tp 8`,
// `-tp=8` and `-ep 2` become `--tp-size 8`, `--tp-size=8` and `--ep-size 2`. Other arguments
// are kept as they are, and so is everything after `--`.
std::vector<std::string> expand_short_aliases(int argc, char** argv);

}  // namespace moebench::cli
