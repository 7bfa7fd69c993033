#include "report/memory_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

double gib(int64_t bytes) { return double(bytes) / double(int64_t(1) << 30); }

std::string weight_dtype_text(DType t) {
  return t == DType::fp8 ? "fp8 e4m3 (fp32 scale per 128x128 block; embeddings, LM head, router, norms bf16)"
                         : dtype_name(t);
}

std::string layout_text(const MemoryRequest& r) {
  const ParallelLayout p = r.layout;
  return fmt::format("tp {} x ep {}: attention, dense MLP and vocabulary split {} ways; routed experts {} ways by "
                     "expert x {} ways within",
                     p.tp, p.ep, p.tp, p.ep, p.moe_tp());
}

std::string shape_text(const MemoryRequest& r) {
  if (r.mode == MemoryMode::train)
    return fmt::format("micro-batch {} x sequence {} (input {} + output {})", r.batch_size, r.context_len(),
                       r.input_len, r.output_len);
  return fmt::format("batch {}, context {} (input {} + output {})", r.batch_size, r.context_len(), r.input_len,
                     r.output_len);
}

std::string smallest_layout_text(const MemoryAssessment& a) {
  if (!a.smallest_layout)
    return fmt::format("none up to tp {} (powers of two): more GPUs, a smaller batch or a shorter context{}",
                       std::max(8, a.request.layout.tp),
                       a.request.mode == MemoryMode::inference && a.request.weight_dtype != DType::fp8
                           ? ", or --dtype fp8"
                           : "");
  return fmt::format("tp {}, ep {} ({})", a.smallest_layout->layout.tp, a.smallest_layout->layout.ep,
                     needed_vs_available(a.smallest_layout->needed_bytes, a.available.bytes));
}

}  // namespace

std::string memory_verdict_line(const MemoryAssessment& a) {
  return fmt::format("{}: {} ({})", a.fits() ? "fits" : "does not fit",
                     needed_vs_available(a.breakdown.total_bytes(), a.available.bytes), a.available.source);
}

std::string format_memory_table(const MemoryAssessment& a) {
  const MemoryRequest& r = a.request;
  const MemoryBreakdown& b = a.breakdown;
  const int64_t total = b.total_bytes();
  std::string out;
  out += fmt::format("# moebench memory: {}, {}, per GPU\n", r.model.name, memory_mode_name(r.mode));
  out += fmt::format("# weights {}, activations {}{}\n", weight_dtype_text(r.weight_dtype),
                     dtype_name(r.activation_dtype()),
                     r.mode == MemoryMode::inference ? fmt::format(", KV cache {}", dtype_name(r.kv_dtype)) : "");
  out += fmt::format("# {}\n", layout_text(r));
  out += fmt::format("# {}; {:.2f} B parameters per GPU", shape_text(r), double(b.parameters_per_gpu) / 1e9);
  if (r.mode == MemoryMode::inference)
    out += fmt::format("; KV cache {:.1f} KiB per token per GPU", double(b.kv_bytes_per_token) / 1024);
  out += "\n";

  size_t label_width = std::string("component").size();
  for (const MemoryLine& l : b.lines) label_width = std::max(label_width, l.label.size());
  label_width = std::max(label_width, std::string("total").size());
  auto row = [&](const std::string& label, const std::string& size, const std::string& share, const std::string& how) {
    std::string line = fmt::format("{:<{}}  {:>10}  {:>6}  {}", label, label_width, size, share, how);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line + "\n";
  };
  out += row("component", "GiB", "share", "how it is counted (~ : estimate)");
  for (const MemoryLine& l : b.lines)
    out += row(l.label, fmt::format("{}{:.3f}", l.estimate ? "~" : "", gib(l.bytes)),
               fmt::format("{:.1f}%", total > 0 ? 100.0 * double(l.bytes) / double(total) : 0.0), l.basis);
  out += row("total", fmt::format("{:.3f}", gib(total)), "100.0%", "");
  out += fmt::format("weights together: {:.3f} GiB\n", gib(b.weight_bytes()));
  out += fmt::format("verdict: {}\n", memory_verdict_line(a));
  out += fmt::format("largest {} that fits at context {}: {}\n",
                     r.mode == MemoryMode::train ? "micro-batch" : "batch", r.context_len(),
                     a.largest_batch > 0 ? std::to_string(a.largest_batch) : std::string("none, not even 1"));
  out += fmt::format("smallest layout that fits {} {}: {}\n", r.mode == MemoryMode::train ? "micro-batch" : "batch",
                     r.batch_size, smallest_layout_text(a));
  return out;
}

std::string memory_json(const MemoryAssessment& a) {
  const MemoryRequest& r = a.request;
  const MemoryBreakdown& b = a.breakdown;
  json components = json::array();
  for (const MemoryLine& l : b.lines)
    components.push_back({{"key", l.key}, {"label", l.label}, {"bytes", l.bytes}, {"gib", gib(l.bytes)},
                          {"estimate", l.estimate}, {"basis", l.basis}});
  json smallest = nullptr;
  if (a.smallest_layout)
    smallest = {{"tp_size", a.smallest_layout->layout.tp}, {"ep_size", a.smallest_layout->layout.ep},
                {"needed_bytes", a.smallest_layout->needed_bytes}};
  json doc = {
      {"model", r.model.name},
      {"mode", memory_mode_name(r.mode)},
      {"dtype", dtype_name(r.weight_dtype)},
      {"activation_dtype", dtype_name(r.activation_dtype())},
      {"kv_cache_dtype", dtype_name(r.kv_dtype)},
      {"tp_size", r.layout.tp},
      {"ep_size", r.layout.ep},
      {"batch_size", r.batch_size},
      {"input_len", r.input_len},
      {"output_len", r.output_len},
      {"chunked_prefill_size", r.chunked_prefill_size},
      {"parameters_per_gpu", b.parameters_per_gpu},
      {"kv_cache_bytes_per_token", b.kv_bytes_per_token},
      {"components", components},
      {"weight_bytes", b.weight_bytes()},
      {"total_bytes", b.total_bytes()},
      {"available_bytes", a.available.bytes},
      {"available_source", a.available.source},
      {"fits", a.fits()},
      {"verdict", memory_verdict_line(a)},
      {"largest_batch", a.largest_batch},
      {"smallest_layout", smallest},
  };
  return doc.dump(2) + "\n";
}

}  // namespace moebench
