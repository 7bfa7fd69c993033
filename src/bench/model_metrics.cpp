#include "bench/model_metrics.hpp"

#include <stdexcept>

namespace moebench {

ModelMetrics model_metrics(const std::vector<ModelRunTimes>& runs, int64_t batch, int64_t input_len,
                           int64_t output_len) {
  if (runs.empty()) throw std::invalid_argument("model_metrics: no runs");
  const int64_t steps = output_len - 1;
  std::vector<double> ttft, tpot, itl, e2e;
  for (const ModelRunTimes& r : runs) {
    if (int64_t(r.step_ms.size()) != steps)
      throw std::invalid_argument("model_metrics: a run's decode steps do not match output_len - 1");
    ttft.push_back(r.ttft_ms);
    e2e.push_back(r.e2e_ms());
    if (steps > 0) tpot.push_back(r.decode_ms / double(steps));
    itl.insert(itl.end(), r.step_ms.begin(), r.step_ms.end());
  }
  ModelMetrics m;
  m.ttft_ms = summarize(ttft);
  m.tpot_ms = summarize(tpot);
  m.itl_ms = summarize(itl);
  m.e2e_ms = summarize(e2e);
  if (steps > 0) {
    m.decode_tok_per_sec_per_sample = 1000.0 / m.tpot_ms.mean;
    m.decode_tok_per_sec = double(batch) * m.decode_tok_per_sec_per_sample;
  }
  m.prefill_tok_per_sec = double(batch * input_len) / (m.ttft_ms.mean * 1e-3);
  m.e2e_tok_per_sec_per_sample = double(output_len) / (m.e2e_ms.mean * 1e-3);
  m.e2e_tok_per_sec = double(batch) * m.e2e_tok_per_sec_per_sample;
  return m;
}

}  // namespace moebench
