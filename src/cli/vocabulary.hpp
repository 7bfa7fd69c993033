#pragma once
// One vocabulary for every subcommand: each idea that several commands take is declared here
// once, with one name, one help text and the other spellings users type as aliases, so that
// `layer`, `model`, `memory`, `report` and `sweep` cannot drift apart again. The aliases are the
// names users know from vLLM and SGLang's tools (`--tp`, `-tp`, `--tensor-parallel-size`,
// `--ep`), from our own earlier flags (`--warmup-runs`, `--moe-impl`, `--format`) and from the
// AWS Neuron (NxDI) configs. README.md lists them.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace moebench::cli {

// Each idea's names for CLI11's add_option: the canonical one first, then its aliases.
// Devices in all, and the expert-parallel groups among them.
inline constexpr const char* kTpSizeFlags = "--tp-size,--tp,--tensor-parallel-size,--tp-degree";
inline constexpr const char* kEpSizeFlags = "--ep-size,--ep,--expert-parallel-size,--moe-ep-degree";
// NxDI's moe_tp_degree: tp_size / ep_size, each expert's split inside its expert-parallel group
// (cli/parallel_options.hpp).
inline constexpr const char* kMoeTpDegreeFlags = "--moe-tp-degree";
// Prompt and generated tokens per sequence.
inline constexpr const char* kInputLenFlags = "--input-len";
inline constexpr const char* kOutputLenFlags = "--output-len";
// A layer's iteration and a model's run (prefill + decode of the batch) are both one timed
// repetition.
inline constexpr const char* kWarmupItersFlags = "--warmup-iters,--warmup-runs";
inline constexpr const char* kBenchmarkItersFlags = "--benchmark-iters,--benchmark-runs";
// The MoE layer implementation(s).
inline constexpr const char* kImplFlags = "--impl,--moe-impl";
// What a command writes.
inline constexpr const char* kOutputFormatFlags = "--output-format,--format";
// Most prompt tokens per prefill step (SGLang's flag).
inline constexpr const char* kChunkedPrefillSizeFlags = "--chunked-prefill-size";
// fp8's recipe: block is the checkpoints' "weight_block_size": [128, 128] (DeepSeek-V3); channel
// and tensor are vLLM's fp8_w8a8 weight scales (with per-token activation scales).
inline constexpr const char* kFp8ScalingFlags = "--fp8-scaling";

// The help of --impl: what `intro` says, then every implementation compiled into this binary
// with its one-line description, one per line, so that `--help` tells what exists.
std::string impl_help(const std::string& intro);
// The help of --backend, saying where this build has no CUDA backend.
std::string backend_help();
// The help of `model`'s --tp-size / --ep-size, saying what this build runs.
std::string model_tp_size_help();
std::string model_ep_size_help();

// tp_size from NxDI's moe_tp_degree: moe_tp_degree x ep_size. `tp_size` is --tp-size when it was
// given too: then it must be that product. Throws InputError naming the flags otherwise, or when
// --moe-tp-degree is below 1.
int tp_size_from_moe_tp_degree(int moe_tp_degree, int ep_size, std::optional<int> tp_size);

// The command line with vLLM's single-dash long forms spelled as CLI11 reads them: `-tp 8`,
// `-tp=8` and `-ep 2` become `--tp-size 8`, `--tp-size=8` and `--ep-size 2`. Other arguments
// are kept as they are, and so is everything after `--`.
std::vector<std::string> expand_short_aliases(int argc, char** argv);

}  // namespace moebench::cli
