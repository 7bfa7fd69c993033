#pragma once
// The layout flags of the commands that run ranks (layer, model): --tp-size, --ep-size and
// NxDI's --moe-tp-degree. AWS Neuron (NxDI) describes a layout as tp_degree (devices in all),
// moe_ep_degree and moe_tp_degree, with moe_tp_degree x moe_ep_degree = tp_degree; its
// --tp-degree and --moe-ep-degree are aliases of --tp-size and --ep-size (cli/vocabulary.hpp),
// and --moe-tp-degree gives tp_size as moe_tp_degree x ep_size when --tp-size is not given.
// Registration, and the one step that turns the three flags into tp_size once they are parsed.
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace moebench::cli {

// Registers --tp-size, --ep-size (with their aliases) and --moe-tp-degree on `app`, bound to
// `tp_size` and `ep_size`. The function returned, called after parsing and before the job runs,
// sets tp_size from --moe-tp-degree (cli/vocabulary.hpp's tp_size_from_moe_tp_degree); it
// throws InputError, naming the flags, when they disagree.
std::function<void()> add_parallel_flags(CLI::App& app, int& tp_size, int& ep_size, const std::string& tp_help,
                                         const std::string& ep_help);

}  // namespace moebench::cli
