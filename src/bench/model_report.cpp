// The texts of `moebench model` from its full result: the Markdown report (printed on stdout
// and written as the run's Markdown file).
#include "bench/model_report.hpp"

#include <fmt/format.h>

#include <cmath>
#include <numeric>


namespace moebench {

namespace {

double gib(int64_t bytes) { return double(bytes) / double(int64_t(1) << 30); }
double gb(int64_t bytes) { return double(bytes) / 1e9; }
// GiB, or MiB below one GiB (tiny CPU models).
std::string size_text(int64_t bytes) {
  return bytes >= (int64_t(1) << 30) ? fmt::format("{:.3f} GiB", gib(bytes))
                                     : fmt::format("{:.2f} MiB", double(bytes) / double(1 << 20));
}

int64_t predicted_activations(const MemoryBreakdown& p) {
  return p.bytes_of("activations.hidden_states") + p.bytes_of("activations.attention") + p.bytes_of("activations.moe") +
         p.bytes_of("activations.logits");
}

double mean_of(const std::vector<int>& v) {
  return v.empty() ? 0.0 : double(std::accumulate(v.begin(), v.end(), 0)) / double(v.size());
}

bool ran(const BatchResult& b) { return b.status == BatchResult::Status::ok; }

std::string status_line(const BatchResult& b) {
  return fmt::format("`batch_size={}` {}: {}", b.batch_size,
                     b.status == BatchResult::Status::refused ? "refused before allocating" : "FAILED",
                     b.failure_text());
}

void parameters(std::string& out, const ModelResult& r) {
  out += fmt::format("# moebench model: {}\n\n", r.model);
  out += "| Parameter | Value |\n|-----------|-------|\n";
  auto row = [&](const std::string& k, const std::string& v) { out += fmt::format("| {} | {} |\n", k, v); };
  row("Model", r.model);
  row("Layers", fmt::format("{} of {}", r.layers, r.full_layers));
  if (r.communicator.empty()) {
    row("Device", fmt::format("{} ({} backend)", r.device, r.backend));
  } else {
    row("Device", fmt::format("{} x {} ranks ({} backend, {})", r.device, r.tp_size, r.backend, r.communicator));
    row("Parallelism", fmt::format("tp_size {}: attention heads, dense MLPs and the vocabulary over {} ranks; MoE "
                                   "layers: ep_size {} (routed experts by expert) x MoE tp {} (each expert's "
                                   "intermediate dimension)",
                                   r.tp_size, r.tp_size, r.ep_size, r.tp_size / r.ep_size));
  }
  row("Dtype", r.dtype);
  row("MoE implementation", r.moe_impl);
  row("Input Length", fmt::format("{} tokens", r.input_len));
  row("Output Length", fmt::format("{} tokens", r.output_len));
  row("Max Sequence Length", fmt::format("{} tokens", r.input_len + r.output_len));
  row("Prefill chunk", fmt::format("{} tokens", r.prefill_chunk));
  row("Warmup Runs", std::to_string(r.warmup_runs));
  row("Benchmark Runs", std::to_string(r.benchmark_runs));
  row("Copy bandwidth", fmt::format("{:.1f} GB/s ({})", r.ceilings.copy_gbps, r.ceilings.copy_method));
  row("Seed", std::to_string(r.seed));
  out += "\n";
  for (const std::string& note : r.notes) out += fmt::format("{}\n", note);
  if (!r.notes.empty()) out += "\n";
}

void startup(std::string& out, const ModelResult& r) {
  out += "## Start-up\n\n| Phase | Time |\n|-------|------|\n";
  out += fmt::format("| Copy bandwidth measurement | {:.2f} s |\n", r.ceilings_ms / 1e3);
  out += fmt::format("| Weight init (synthetic, on the device) | {:.2f} s |\n", r.weight_init_ms / 1e3);
  out += fmt::format("| MoE implementation prepare ({}) | {:.2f} s |\n", r.moe_impl, r.moe_prepare_ms / 1e3);
  for (const BatchResult& b : r.batches) {
    if (!ran(b)) continue;
    out += fmt::format("| KV cache allocation, batch {} | {:.3f} s |\n", b.batch_size, b.kv_alloc_ms / 1e3);
    if (b.decode_launch == "graph")
      out += fmt::format("| CUDA graph capture (decode step), batch {} | {:.3f} s |\n", b.batch_size,
                         b.graph_capture_ms / 1e3);
  }
  out += "\n";
}

void summary(std::string& out, const ModelResult& r) {
  out += "## Batch Size Comparison\n\n### Summary Table\n\n| Metric |";
  std::string rule = "|--------|";
  for (const BatchResult& b : r.batches)
    if (ran(b)) {
      out += fmt::format(" Batch Size {} |", b.batch_size);
      rule += "------|";
    }
  out += fmt::format(" Notes |\n{}-------|\n", rule);
  auto row = [&](const std::string& name, auto value, const std::string& note) {
    out += fmt::format("| {} |", name);
    for (const BatchResult& b : r.batches)
      if (ran(b)) out += fmt::format(" {} |", value(b));
    out += fmt::format(" {} |\n", note);
  };
  auto ms = [](double v) { return fmt::format("{:.2f} ms", v); };
  auto toks = [](double v) { return fmt::format("{:.2f} tok/s", v); };
  row("**TTFT (Prefill)**", [&](const BatchResult& b) { return ms(b.metrics.ttft_ms.mean); }, "Time to first token");
  row("**TPOT (Decode)**", [&](const BatchResult& b) { return ms(b.metrics.tpot_ms.mean); }, "Per token decode time");
  row("TPOT floor", [&](const BatchResult& b) { return ms(b.tpot_floor_ms); },
      "Bytes read per decode step / copy bandwidth");
  row("TPOT / floor", [&](const BatchResult& b) { return fmt::format("{:.2f}x", b.metrics.tpot_ms.mean / b.tpot_floor_ms); },
      "1.00x would be bandwidth-bound");
  row("ITL p50 / p99", [&](const BatchResult& b) {
    return fmt::format("{:.2f} / {:.2f} ms", b.metrics.itl_ms.p50, b.metrics.itl_ms.p99);
  }, "Inter-token latency");
  row("**Decode Throughput**", [&](const BatchResult& b) { return toks(b.metrics.decode_tok_per_sec_per_sample); },
      "Per-sample throughput");
  row("**Batch Throughput**", [&](const BatchResult& b) { return toks(b.metrics.decode_tok_per_sec); },
      "Total tokens/s");
  row("**Prefill Throughput**", [&](const BatchResult& b) { return toks(b.metrics.prefill_tok_per_sec); },
      "Input tokens/s");
  row("**E2E Throughput**", [&](const BatchResult& b) { return toks(b.metrics.e2e_tok_per_sec); },
      "Batch adjusted");
  out += "\n";
  for (const BatchResult& b : r.batches)
    if (!ran(b)) out += fmt::format("**Note**: {}\n\n", status_line(b));
}

void sweep(std::string& out, const ModelResult& r) {
  out += "## Batch Sweep\n\n";
  out += "| Batch Size | Input Len | Latency (s) | Input Throughput (tok/s) | Output Throughput (tok/s) | ITL (ms) "
         "| TTFT (ms) | TPOT (ms) | TPOT floor (ms) | Decode |\n";
  out += "|------------|-----------|-------------|--------------------------|---------------------------|----------"
         "|-----------|-----------|-----------------|--------|\n";
  for (const BatchResult& b : r.batches) {
    if (!ran(b)) {
      out += fmt::format("| {} | {} | {} |  |  |  |  |  |  |  |\n", b.batch_size, r.input_len,
                         b.status == BatchResult::Status::refused ? "does not fit" : "FAILED");
      continue;
    }
    const ModelMetrics& m = b.metrics;
    out += fmt::format("| {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {} |\n",
                       b.batch_size, r.input_len, m.e2e_ms.mean / 1e3, m.prefill_tok_per_sec, m.decode_tok_per_sec,
                       m.itl_ms.mean, m.ttft_ms.mean, m.tpot_ms.mean, b.tpot_floor_ms, b.decode_launch);
  }
  out += "\n";
}

void batch_section(std::string& out, const ModelResult& r, const BatchResult& b) {
  out += fmt::format("## Batch Size {} Results\n\n", b.batch_size);
  if (!ran(b)) {
    out += fmt::format("**Status**: {}\n\n**Error Message:**\n```\n{}\n```\n\n",
                       b.status == BatchResult::Status::refused ? "REFUSED - does not fit" : "FAILED",
                       b.failure_text());
    return;
  }
  const ModelMetrics& m = b.metrics;
  const int64_t steps = r.output_len - 1;
  out += "### Prefill Benchmark (TTFT)\n\n| Metric | Value |\n|--------|-------|\n";
  out += fmt::format("| **TTFT Mean** | **{:.2f} ms** |\n| TTFT Std | {:.2f} ms |\n| TTFT Min | {:.2f} ms |\n"
                     "| TTFT Max | {:.2f} ms |\n| Prefill Throughput | {:.2f} tok/s |\n\n",
                     m.ttft_ms.mean, m.ttft_ms.std, m.ttft_ms.min, m.ttft_ms.max, m.prefill_tok_per_sec);
  out += "**Raw Results:**\n```\n";
  for (size_t i = 0; i < b.runs.size(); ++i) out += fmt::format("Run {}: TTFT = {:.2f} ms\n", i + 1, b.runs[i].ttft_ms);
  out += "```\n\n";

  out += fmt::format("### Decode Benchmark (TPOT)\n\nDecode steps: {} per run, each {}.\n\n", steps,
                     b.decode_launch == "graph" ? "one CUDA graph replay" : "launched eagerly");
  out += "| Metric | Value |\n|--------|-------|\n";
  out += fmt::format("| **TPOT Mean** | **{:.2f} ms** |\n| TPOT Std | {:.2f} ms |\n| TPOT Min | {:.2f} ms |\n"
                     "| TPOT Max | {:.2f} ms |\n| TPOT floor | {:.2f} ms |\n| ITL Mean / p50 / p99 | {:.2f} / {:.2f} / "
                     "{:.2f} ms |\n| **Decode Throughput** | **{:.2f} tokens/s** (per sample) |\n"
                     "| Batch Throughput | {:.2f} tokens/s |\n\n",
                     m.tpot_ms.mean, m.tpot_ms.std, m.tpot_ms.min, m.tpot_ms.max, b.tpot_floor_ms, m.itl_ms.mean,
                     m.itl_ms.p50, m.itl_ms.p99, m.decode_tok_per_sec_per_sample, m.decode_tok_per_sec);
  out += fmt::format("TPOT floor: {:.3f} GB read per decode step at context {} (weights {:.3f} GB, routed experts "
                     "{:.3f} GB for {:.1f} active experts per MoE layer, KV cache {:.3f} GB) at {:.1f} GB/s.\n\n",
                     gb(b.floor_bytes.total()), b.floor_context, gb(b.floor_bytes.weights),
                     gb(b.floor_bytes.routed_experts), mean_of(b.active_experts), gb(b.floor_bytes.kv_cache),
                     r.ceilings.copy_gbps);
  out += "**Raw Results:**\n```\n";
  for (size_t i = 0; i < b.runs.size(); ++i)
    out += fmt::format("Run {}: Decode={:.2f}ms, TPOT={:.2f}ms, Tokens={}\n", i + 1, b.runs[i].decode_ms,
                       steps > 0 ? b.runs[i].decode_ms / double(steps) : 0.0, steps);
  out += "```\n\n";

  out += "### End-to-End Generation\n\n| Metric | Value |\n|--------|-------|\n";
  out += fmt::format("| **Total Time Mean** | **{:.2f} ms** |\n| Total Time Std | {:.2f} ms |\n"
                     "| **Per-Sample Throughput** | **{:.2f} tokens/s** |\n| **Batch Throughput** | **{:.2f} tokens/s** |\n\n",
                     m.e2e_ms.mean, m.e2e_ms.std, m.e2e_tok_per_sec_per_sample, m.e2e_tok_per_sec);
  out += "**Raw Results:**\n```\n";
  for (size_t i = 0; i < b.runs.size(); ++i) {
    const double total_s = b.runs[i].e2e_ms() / 1e3;
    out += fmt::format("Run {}/{}: Total={:.3f}s, Output tokens={}, Throughput={:.2f} tok/s\n", i + 1, b.runs.size(),
                       total_s, r.output_len, double(r.output_len) / total_s);
  }
  out += "```\n\n";

  const ModelMemory& mem = b.memory;
  out += b.ranks.empty() ? "### Memory Layout\n\n"
                         : "### Memory Layout (per rank: the rank that holds the most)\n\n";
  out += "| Part | Measured | Predicted |\n|------|----------|-----------|\n";
  for (const MemoryComparisonRow& row : memory_comparison(mem))
    out += fmt::format("| {} | {} | {} |\n", row.part, size_text(row.measured), size_text(row.predicted));
  out += fmt::format("| **In use** ({}) | **{}** | **{}** ({:+.1f}% measured vs predicted) |\n", mem.measured_source,
                     size_text(mem.measured_bytes), size_text(mem.predicted_bytes), 100.0 * mem.difference());
  if (mem.device_total > 0)
    out += fmt::format("| Free | {} of {} | |\n", size_text(mem.device_free), size_text(mem.device_total));
  out += "\n";
  if (b.ranks.empty()) return;
  out += "### Ranks\n\nThe run's times above are the slowest rank's per run; every rank generated the same tokens"
         " unless the status says otherwise.\n\n";
  out += "| Rank | TTFT mean | TPOT mean | Weights | KV cache | Activations | In use |\n"
         "|------|-----------|-----------|---------|----------|-------------|--------|\n";
  for (const RankBatchFigures& f : b.ranks)
    out += fmt::format("| {} | {:.2f} ms | {:.2f} ms | {} | {} | {} | {} |\n", f.rank, f.mean_ttft_ms, f.mean_tpot_ms,
                       size_text(f.weights), size_text(f.kv_cache), size_text(f.activations),
                       size_text(f.measured_bytes));
  out += "\n";
}

}  // namespace

std::vector<MemoryComparisonRow> memory_comparison(const ModelMemory& m) {
  return {{"weights", m.weights, m.predicted.weight_bytes()},
          {"KV cache", m.kv_cache, m.predicted.bytes_of("kv_cache")},
          {"activations (decoder buffers, MoE workspaces)", m.activations, predicted_activations(m.predicted)},
          {"CUDA graphs", m.graphs, m.predicted.bytes_of("cuda_graphs")}};
}

std::string model_report_markdown(const ModelResult& r) {
  std::string out;
  parameters(out, r);
  summary(out, r);
  sweep(out, r);
  startup(out, r);
  for (const BatchResult& b : r.batches) batch_section(out, r, b);
  if (!r.command_line.empty()) out += fmt::format("## Benchmark Command\n\n```bash\n{}\n```\n", r.command_line);
  return out;
}

}  // namespace moebench
