#pragma once
// Model selection flags shared by every subcommand that needs a model:
// --model NAME | --model-path DIR|FILE | --manual-config with the seed-003 shape flags, and for
// the commands that need the whole decoder stack (memory, model) its flags, named as in a
// Hugging Face config.json. Registration only: they fill a ModelOptions, which
// core/model_options resolves.
#include <string>

#include <CLI/CLI.hpp>

#include "core/model_options.hpp"

namespace moebench::cli {

// `default_text` completes the --model help: which preset runs when none is named.
void add_model_flags(CLI::App& app, ModelOptions& options, const std::string& default_text);
void add_decoder_flags(CLI::App& app, ModelOptions& options);

}  // namespace moebench::cli
