// `auto`: the fastest of the other exact implementations for the shape, measured on this device.
//
// prepare() prepares every other implementation of the backend and, for each token-count
// bucket (powers of two up to spec.max_tokens), times them on synthetic inputs the way the
// runner will run them (recorded graph replays where they can be recorded), keeps the fastest,
// and remembers the choice on disk per GPU and shape (auto_cache.hpp). forward() then hands the
// batch to the choice for its bucket: no measuring, no host synchronisation of its own.
#include <algorithm>
#include <cstdio>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "core/synthetic.hpp"
#include "moe/auto_cache.hpp"
#include "moe/layer_weights.hpp"
#include "moe/moe_impl.hpp"

namespace moebench {

namespace {

constexpr int kWarmup = 2;
constexpr int kTimed = 5;

std::vector<int64_t> token_buckets(int64_t max_tokens) {
  std::vector<int64_t> buckets;
  for (int64_t b = 1; b < max_tokens; b *= 2) buckets.push_back(b);
  buckets.push_back(max_tokens);
  return buckets;
}

class AutoMoe : public MoeImpl {
 public:
  explicit AutoMoe(Backend& backend) : backend_(backend) {}

  void prepare(const LayerSpec& spec, const LayerWeights& weights) override {
    for (const ImplInfo& info : all_impls()) {
      if (info.backend != backend_.kind() || info.name == "auto" || info.rank_tokens != RankTokens::one_device)
        continue;
      std::unique_ptr<MoeImpl> impl = info.make(backend_);
      try {
        impl->prepare(spec, weights);
      } catch (const InputError&) {
        continue;  // cannot run this shape (e.g. CUTLASS and sizes not multiples of 8)
      }
      if (impl->routing_tile_rows(spec.max_tokens) != 0) continue;  // not exact top-k: another function
      names_.push_back(info.name);
      candidates_.push_back(std::move(impl));
    }
    if (candidates_.empty()) throw InputError("auto: no implementation can run this layer");

    AutoChoiceCache cache;
    const std::string key = AutoChoiceCache::key(backend_.device_info().name, spec);
    bool measured = false;
    for (int64_t bucket : token_buckets(spec.max_tokens)) {
      std::optional<std::string> cached = cache.find(key, bucket);
      auto it = cached ? std::find(names_.begin(), names_.end(), *cached) : names_.end();
      size_t choice = it != names_.end() ? size_t(it - names_.begin()) : fastest(spec, bucket);
      if (it == names_.end()) {
        cache.set(key, bucket, names_[choice]);
        measured = true;
      }
      buckets_.push_back({bucket, choice});
    }
    if (measured) cache.save();
  }

  void bind_weights(const LayerWeights& weights) override {
    for (std::unique_ptr<MoeImpl>& impl : candidates_) impl->bind_weights(weights);
  }
  void forward(const LayerArgs& args) override { chosen(args.num_tokens).forward(args); }
  bool recordable(int64_t num_tokens) const override {
    return !buckets_.empty() && chosen(num_tokens).recordable(num_tokens);
  }

  std::vector<std::pair<std::string, double>> counters() const override {
    // Which implementation each bucket uses: "auto:<bucket>:<name>" = 1.
    std::vector<std::pair<std::string, double>> out;
    for (const Bucket& b : buckets_) out.push_back({"auto:" + std::to_string(b.tokens) + ":" + names_[b.choice], 1});
    return out;
  }

 private:
  struct Bucket {
    int64_t tokens;
    size_t choice;
  };

  MoeImpl& chosen(int64_t num_tokens) const {
    if (buckets_.empty()) throw std::logic_error("auto: forward() before prepare()");
    for (const Bucket& b : buckets_)
      if (num_tokens <= b.tokens) return *candidates_[b.choice];
    return *candidates_[buckets_.back().choice];
  }

  // Median time of each candidate on `tokens` synthetic tokens; the index of the fastest.
  size_t fastest(const LayerSpec& spec, int64_t tokens) {
    const ModelConfig& m = spec.model;
    const size_t act = size_t(tokens * m.hidden_size);
    DeviceBuffer x(backend_, act * 2), out(backend_, act * 2), logits(backend_, size_t(tokens * m.num_experts) * 4);
    backend_.fill_synthetic(x.get(), spec.dtype, act, spec.seed, uint64_t(SynthStream::hidden_states), 0,
                            hidden_states_scale());
    backend_.fill_synthetic(logits.get(), DType::fp32, size_t(tokens * m.num_experts), spec.seed,
                            uint64_t(SynthStream::router_logits), 0, 1.7320508f);  // variance 1
    const LayerArgs args{x.get(), logits.as<float>(), out.get(), tokens};

    size_t best = 0;
    double best_ms = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < candidates_.size(); ++i) {
      MoeImpl& impl = *candidates_[i];
      std::unique_ptr<RecordedWork> graph;
      if (impl.recordable(tokens)) graph = backend_.record([&] { impl.forward(args); });
      auto run = [&] { graph ? graph->replay() : impl.forward(args); };
      for (int w = 0; w < kWarmup; ++w) run();
      std::vector<double> ms;
      for (int t = 0; t < kTimed; ++t) {
        std::unique_ptr<IntervalTimer> timer = backend_.make_timer();
        timer->start();
        run();
        timer->stop();
        ms.push_back(timer->elapsed_ms());
      }
      std::nth_element(ms.begin(), ms.begin() + kTimed / 2, ms.end());
      if (ms[kTimed / 2] < best_ms) {
        best_ms = ms[kTimed / 2];
        best = i;
      }
    }
    return best;
  }

  Backend& backend_;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<MoeImpl>> candidates_;
  std::vector<Bucket> buckets_;
};

}  // namespace

std::unique_ptr<MoeImpl> make_auto(Backend& backend) { return std::make_unique<AutoMoe>(backend); }

}  // namespace moebench
