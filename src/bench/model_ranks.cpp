// Each rank's model figures and rank 0's merge (model_ranks.hpp).
#include "bench/model_ranks.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace moebench {

namespace {

using json = nlohmann::ordered_json;

json runs_json(const std::vector<ModelRunTimes>& runs) {
  json out = json::array();
  for (const ModelRunTimes& t : runs) out.push_back({{"ttft_ms", t.ttft_ms}, {"decode_ms", t.decode_ms}, {"step_ms", t.step_ms}});
  return out;
}

std::vector<ModelRunTimes> runs_of(const json& j) {
  std::vector<ModelRunTimes> runs;
  for (const json& t : j)
    runs.push_back({t["ttft_ms"].get<double>(), t["decode_ms"].get<double>(), t["step_ms"].get<std::vector<double>>()});
  return runs;
}

// Per run, the longest of each time over the ranks.
void keep_slowest(std::vector<ModelRunTimes>& runs, const std::vector<ModelRunTimes>& other) {
  for (size_t i = 0; i < runs.size() && i < other.size(); ++i) {
    runs[i].ttft_ms = std::max(runs[i].ttft_ms, other[i].ttft_ms);
    runs[i].decode_ms = std::max(runs[i].decode_ms, other[i].decode_ms);
    for (size_t s = 0; s < runs[i].step_ms.size() && s < other[i].step_ms.size(); ++s)
      runs[i].step_ms[s] = std::max(runs[i].step_ms[s], other[i].step_ms[s]);
  }
}

std::string tokens_text(const std::vector<int32_t>& tokens) {
  std::string s;
  for (int32_t t : tokens) s += (s.empty() ? "" : " ") + std::to_string(t);
  return s;
}

}  // namespace

std::string model_rank_blob(const ModelResult& result, int rank) {
  json batches = json::array();
  for (const BatchResult& b : result.batches) {
    const ModelMemory& m = b.memory;
    json batch = {{"batch_size", b.batch_size}, {"status", b.status_name()}};
    if (b.status == BatchResult::Status::ok) {
      batch["runs"] = runs_json(b.runs);
      batch["mean_ttft_ms"] = b.metrics.ttft_ms.mean;
      batch["mean_tpot_ms"] = b.metrics.tpot_ms.mean;
      batch["memory"] = {{"weights", m.weights},       {"kv_cache", m.kv_cache},
                         {"activations", m.activations}, {"graphs", m.graphs},
                         {"device_total", m.device_total}, {"device_free", m.device_free},
                         {"measured_bytes", m.measured_bytes}};
      batch["last_tokens"] = b.last_tokens;
    }
    batches.push_back(std::move(batch));
  }
  return json{{"rank", rank}, {"batches", batches}}.dump();
}

void merge_model_ranks(ModelResult& result, const std::vector<std::string>& blobs) {
  std::vector<json> ranks;
  for (const std::string& blob : blobs) ranks.push_back(json::parse(blob));
  for (size_t i = 0; i < result.batches.size(); ++i) {
    BatchResult& b = result.batches[i];
    if (b.status != BatchResult::Status::ok) continue;
    int64_t most_memory = -1;
    std::vector<ModelRunTimes> runs = b.runs;
    for (const json& rank : ranks) {
      const json& rb = rank["batches"].at(i);
      const json& mem = rb["memory"];
      RankBatchFigures f;
      f.rank = rank["rank"].get<int>();
      f.mean_ttft_ms = rb["mean_ttft_ms"].get<double>();
      f.mean_tpot_ms = rb["mean_tpot_ms"].get<double>();
      f.weights = mem["weights"].get<int64_t>();
      f.kv_cache = mem["kv_cache"].get<int64_t>();
      f.activations = mem["activations"].get<int64_t>();
      f.measured_bytes = mem["measured_bytes"].get<int64_t>();
      f.device_free = mem["device_free"].get<int64_t>();
      f.last_tokens = rb["last_tokens"].get<std::vector<int32_t>>();
      keep_slowest(runs, runs_of(rb["runs"]));
      if (f.measured_bytes > most_memory) {
        most_memory = f.measured_bytes;
        b.memory.weights = f.weights;
        b.memory.kv_cache = f.kv_cache;
        b.memory.activations = f.activations;
        b.memory.graphs = mem["graphs"].get<int64_t>();
        b.memory.device_total = mem["device_total"].get<int64_t>();
        b.memory.device_free = f.device_free;
        b.memory.measured_bytes = f.measured_bytes;
      }
      b.ranks.push_back(std::move(f));
    }
    b.runs = std::move(runs);
    b.metrics = model_metrics(b.runs, b.batch_size, result.input_len, result.output_len);
    for (const RankBatchFigures& f : b.ranks)
      if (f.last_tokens != b.ranks.front().last_tokens) {
        b.status = BatchResult::Status::failed;
        b.failure_kind = FailureKind::VerificationFailed;
        b.failure = fmt::format("rank {} generated other tokens than rank {} (last tokens {} vs {})", f.rank,
                                b.ranks.front().rank, tokens_text(f.last_tokens),
                                tokens_text(b.ranks.front().last_tokens));
        break;
      }
  }
}

}  // namespace moebench
