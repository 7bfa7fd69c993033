// The CPU reference layer ("reference"): route(), then every expert as two packed GEMMs with
// float accumulation, the gated activation fused onto the first, and the weighted combine
// fused onto the second. Weights are converted to float and packed (exact: bf16 and fp16
// values are floats): the shared experts at bind, a routed expert when routing first selects it
// after a bind, so a run of a few tokens over a large layer packs (and has filled, see
// LazyExperts) only the experts it reads. An expert that at most kRowBlock token rows reach is
// not packed at all: its bf16/fp16 rows are read where they are, half the bytes
// of packed floats, so a decode-sized batch over a large layer packs nothing (row_kernel.hpp:
// the same arithmetic, so outputs are the same bits either way). The intermediate
// activation stays in float, and only the output is rounded to the layer dtype.
//
// fp8 (--dtype fp8, DeepSeek-V3's or vLLM fp8_w8a8's recipe: core/fp8_scaling.hpp): the weights
// are e4m3 bytes with fp32 scales, dequantised into the packed floats (every routed expert is
// packed: there is no 16-bit row to read directly); each GEMM's input is quantised per token
// (per 128-channel group with block scaling) and dequantised, as an fp8 GEMM with scales sees
// it: x before gate/up, the intermediate activation before down. Products and sums stay in
// float, the output is bf16, and the shared-expert gate reads the unquantised bf16 input.
//
// Work is split so that no two threads write the same element and every sum runs in a fixed
// order, so results do not depend on the thread count:
//  - gate/up: units of (expert, panel of kPanelWidth/2 intermediate columns, block of
//    kRowBlock tokens), in that order so consecutive units reuse a panel from cache;
//  - down + combine: units of kPanelWidth output columns; each runs every expert (ascending
//    id, then the shared experts) over its columns, so a token's sum has one order.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "core/errors.hpp"
#include "core/parallel.hpp"
#include "moe/activation.hpp"
#include "core/fp8_scaling.hpp"
#include "moe/cpu/packed_gemm.hpp"
#include "moe/fp8_weights.hpp"
#include "moe/cpu/row_kernel.hpp"
#include "moe/moe_impl.hpp"
#include "routing/routing.hpp"

namespace moebench {

namespace {

using cpu::kPanelWidth;
using cpu::kRowBlock;
constexpr int kHalfPanel = kPanelWidth / 2;  // gate/up panels: half gate, half up columns

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Packed gate/up panels of one expert: columns j < kHalfPanel are gate rows, the rest the up
// rows of the same intermediate indices.
int64_t gate_up_panels(int64_t inter) { return ceil_div(inter, kHalfPanel); }
int64_t down_panels(int64_t hidden) { return ceil_div(hidden, kPanelWidth); }
// Floats of one expert's packed gate/up and down panels.
size_t packed_gate_up_floats(int64_t hidden, int64_t inter) {
  return size_t(gate_up_panels(inter) * hidden * kPanelWidth);
}
size_t packed_down_floats(int64_t hidden, int64_t inter) { return size_t(down_panels(hidden) * inter * kPanelWidth); }

// Experts that at most this many token rows reach run from their 16-bit weights (row_kernel).
constexpr int64_t kDirectRows = kRowBlock;

// Rows (tokens with their combine weights) that go through one expert.
struct Job {
  const float* w13 = nullptr;  // packed gate/up panels (null: direct, below)
  const float* w2 = nullptr;   // packed down panels
  const uint16_t* w13_bits = nullptr;  // direct: [2 * inter][H] in the layer dtype
  const uint16_t* w2_bits = nullptr;   // direct: [H][inter]
  int64_t inter = 0;
  int64_t first_row = 0;  // into row_token / row_weight
  int64_t rows = 0;
  int64_t h_offset = 0;  // floats into the intermediate buffer
};

class CpuReference final : public MoeImpl {
 public:
  explicit CpuReference(Backend& backend) : backend_(backend) {}
  void prepare(const LayerSpec& spec, const LayerWeights& weights) override;
  void bind_weights(const LayerWeights& weights) override;
  void forward(const LayerArgs& args) override;

 private:
  // Packs expert e of intermediate size `inter` from the canonical layout (w13, w2: of all
  // such experts; fp8: with their scales s13, s2) into w13p / w2p, one expert's packed floats each.
  void pack_expert(const void* w13, const void* w2, const float* s13, const float* s2, int e, int64_t inter,
                   float* w13p, float* w2p);
  // Packs every routed expert that more than kDirectRows rows of `routing` reach and that is
  // not packed since the last bind; has the others filled (LazyExperts) for direct reading.
  void pack_routed(const Routing& routing);
  void build_jobs(const Routing& routing, int64_t tokens);
  void gate_up();
  // fp8: each job row's intermediate activation, quantised per token (group) and dequantised.
  void quantize_intermediate();
  void down_and_combine(int64_t tokens, void* out);

  Backend& backend_;
  LayerSpec spec_;
  std::vector<float> bias_;
  std::vector<float> shared_gate_;
  LayerWeights weights_;                            // as bound
  std::vector<DeviceBuffer> w13_, w2_;              // packed float weights per routed expert
  std::vector<bool> packed_;                        // per routed expert, since the last bind
  DeviceBuffer shared_w13_, shared_w2_;             // packed float weights of the shared experts
  DeviceBuffer x_;      // [T][H] float input
  DeviceBuffer xq_;     // fp8: [T][H] the input quantised per token (group) and dequantised
  DeviceBuffer h_;      // intermediate activations, per job [rows][inter]
  DeviceBuffer acc_;    // [T][H] float output accumulator
  DeviceBuffer zeros_;  // pads short row blocks
  std::vector<int64_t> row_token_;
  std::vector<float> row_weight_;
  std::vector<Job> jobs_;
  std::vector<int64_t> job_first_unit_;  // gate/up units before each job; back(): all units
};

void CpuReference::pack_expert(const void* w13, const void* w2, const float* s13, const float* s2, int e,
                              int64_t inter, float* w13p, float* w2p) {
  const int64_t H = spec_.model.hidden_size;
  const int64_t p13 = gate_up_panels(inter), p2 = down_panels(H);
  const auto gate_up_row = [&](int64_t p, int j) -> int64_t {
    int64_t c = p * kHalfPanel + j % kHalfPanel;
    if (c >= inter) return -1;
    return j < kHalfPanel ? c : inter + c;
  };
  const auto down_row = [&](int64_t p, int j) -> int64_t {
    int64_t r = p * kPanelWidth + j;
    return r < H ? r : -1;
  };
  if (spec_.dtype == DType::fp8) {
    const Fp8Scaling sc = spec_.fp8_scaling;
    std::vector<float> d13(size_t(2 * inter * H)), d2(size_t(H * inter));
    dequantize_expert_fp8(static_cast<const uint8_t*>(w13) + size_t(e) * size_t(2 * inter * H),
                          s13 + e * fp8_gate_up_scales(sc, H, inter),
                          static_cast<const uint8_t*>(w2) + size_t(e) * size_t(H * inter),
                          s2 + e * fp8_down_scales(sc, H, inter), H, inter, sc, d13.data(), d2.data());
    cpu::pack_panels(d13.data(), H, p13, gate_up_row, w13p);
    cpu::pack_panels(d2.data(), inter, p2, down_row, w2p);
    return;
  }
  const uint16_t* src13 = static_cast<const uint16_t*>(w13) + size_t(e) * size_t(2 * inter * H);
  const uint16_t* src2 = static_cast<const uint16_t*>(w2) + size_t(e) * size_t(H * inter);
  cpu::pack_panels(src13, spec_.dtype, H, p13, gate_up_row, w13p);
  cpu::pack_panels(src2, spec_.dtype, inter, p2, down_row, w2p);
}

void CpuReference::pack_routed(const Routing& routing) {
  const ModelConfig& m = spec_.model;
  const int64_t H = m.hidden_size, I = m.moe_intermediate_size;
  std::vector<int64_t> rows(size_t(m.num_experts), 0);
  for (int32_t e : routing.expert_ids) ++rows[size_t(e)];
  for (int32_t e : routing.expert_ids) {
    weights_.ensure_expert(e);
    if (packed_[size_t(e)] || (rows[size_t(e)] <= kDirectRows && spec_.dtype != DType::fp8)) continue;
    if (!w13_[size_t(e)].get()) {
      w13_[size_t(e)] = DeviceBuffer(backend_, packed_gate_up_floats(H, I) * sizeof(float));
      w2_[size_t(e)] = DeviceBuffer(backend_, packed_down_floats(H, I) * sizeof(float));
    }
    pack_expert(weights_.w13, weights_.w2, weights_.w13_scale, weights_.w2_scale, e, I, w13_[size_t(e)].as<float>(),
                w2_[size_t(e)].as<float>());
    packed_[size_t(e)] = true;
  }
}

void CpuReference::prepare(const LayerSpec& spec, const LayerWeights& weights) {
  if (backend_.kind() != BackendKind::cpu)
    throw InputError("the reference implementation runs on the CPU backend only");
  if (spec.dtype != DType::bf16 && spec.dtype != DType::fp16 && spec.dtype != DType::fp8)
    throw InputError(fmt::format("--dtype {}: the CPU reference runs bf16, fp16 or fp8", dtype_name(spec.dtype)));
  spec.model.validate(/*layer_only=*/true);
  spec_ = spec;
  const ModelConfig& m = spec.model;
  const int64_t H = m.hidden_size, I = m.moe_intermediate_size, T = spec.max_tokens;
  const int S = m.num_shared_experts;
  const int64_t Is = S > 0 ? m.shared_intermediate_size : 0;

  w13_.resize(size_t(m.num_experts));
  w2_.resize(size_t(m.num_experts));
  if (S > 0) {
    shared_w13_ = DeviceBuffer(backend_, size_t(S) * packed_gate_up_floats(H, Is) * sizeof(float));
    shared_w2_ = DeviceBuffer(backend_, size_t(S) * packed_down_floats(H, Is) * sizeof(float));
  }
  bind_weights(weights);

  const int64_t rows = T * (m.top_k + S);
  x_ = DeviceBuffer(backend_, size_t(T * H) * sizeof(float));
  if (spec.dtype == DType::fp8) xq_ = DeviceBuffer(backend_, size_t(T * H) * sizeof(float));
  acc_ = DeviceBuffer(backend_, size_t(T * H) * sizeof(float));
  h_ = DeviceBuffer(backend_, size_t(T * (m.top_k * I + S * Is)) * sizeof(float));
  const int64_t longest = std::max({H, I, Is});
  zeros_ = DeviceBuffer(backend_, size_t(longest) * sizeof(float));
  backend_.fill_bytes(zeros_.get(), 0, zeros_.bytes());
  row_token_.resize(size_t(rows));
  row_weight_.resize(size_t(rows));
  jobs_.reserve(size_t(m.num_experts + S));
}

void CpuReference::bind_weights(const LayerWeights& weights) {
  const ModelConfig& m = spec_.model;
  const int S = m.num_shared_experts;
  weights_ = weights;
  packed_.assign(size_t(m.num_experts), false);  // routed experts: packed when routed (pack_routed)
  const int64_t H = m.hidden_size, Is = m.shared_intermediate_size;
  for (int s = 0; s < S; ++s)
    pack_expert(weights.shared_w13, weights.shared_w2, weights.shared_w13_scale, weights.shared_w2_scale, s, Is,
                shared_w13_.as<float>() + size_t(s) * packed_gate_up_floats(H, Is),
                shared_w2_.as<float>() + size_t(s) * packed_down_floats(H, Is));

  shared_gate_.clear();
  if (S > 0 && m.shared_expert_gate) {
    std::vector<uint16_t> bits(static_cast<size_t>(m.hidden_size));
    backend_.copy_to_host(bits.data(), weights.shared_gate, bits.size() * sizeof(uint16_t));
    for (uint16_t b : bits) shared_gate_.push_back(half_bits_to_float(b, activation_dtype(spec_.dtype)));
  }
  bias_.clear();
  if (m.score_correction_bias && weights.score_bias) {
    bias_.resize(size_t(m.num_experts));
    backend_.copy_to_host(bias_.data(), weights.score_bias, bias_.size() * sizeof(float));
  }
}

// Groups the routed (token, weight) pairs by expert, tokens ascending, then appends one job
// per shared expert over all tokens (weight: the sigmoid shared-expert gate, or 1).
void CpuReference::build_jobs(const Routing& routing, int64_t tokens) {
  const ModelConfig& m = spec_.model;
  const int64_t H = m.hidden_size, I = m.moe_intermediate_size, k = m.top_k;
  std::vector<int64_t> next(size_t(m.num_experts) + 1, 0);
  for (int32_t e : routing.expert_ids) ++next[size_t(e) + 1];
  for (int e = 0; e < m.num_experts; ++e) next[size_t(e) + 1] += next[size_t(e)];

  jobs_.clear();
  int64_t h_offset = 0;
  for (int e = 0; e < m.num_experts; ++e) {
    Job job;
    job.rows = next[size_t(e) + 1] - next[size_t(e)];
    if (job.rows == 0) continue;
    if (job.rows <= kDirectRows && spec_.dtype != DType::fp8) {
      job.w13_bits = static_cast<const uint16_t*>(weights_.w13) + size_t(e) * size_t(2 * I * H);
      job.w2_bits = static_cast<const uint16_t*>(weights_.w2) + size_t(e) * size_t(H * I);
    } else {
      job.w13 = w13_[size_t(e)].as<float>();
      job.w2 = w2_[size_t(e)].as<float>();
    }
    job.inter = I;
    job.first_row = next[size_t(e)];
    job.h_offset = h_offset;
    h_offset += job.rows * I;
    jobs_.push_back(job);
  }
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < k; ++j) {
      int64_t slot = next[size_t(routing.expert_ids[size_t(t * k + j)])]++;
      row_token_[size_t(slot)] = t;
      row_weight_[size_t(slot)] = routing.weights[size_t(t * k + j)];
    }

  const int S = m.num_shared_experts;
  if (S > 0) {
    const int64_t Is = m.shared_intermediate_size;
    const int64_t first = tokens * k;
    const float* x = x_.as<float>();
    parallel_for(tokens, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        float w = 1.0f;
        if (!shared_gate_.empty()) {
          float dot = 0;
          for (int64_t c = 0; c < H; ++c) dot += x[size_t(t * H + c)] * shared_gate_[size_t(c)];
          w = 1.0f / (1.0f + std::exp(-dot));
        }
        row_token_[size_t(first + t)] = t;
        row_weight_[size_t(first + t)] = w;
      }
    }, 64);
    for (int s = 0; s < S; ++s) {
      Job job;
      job.w13 = shared_w13_.as<float>() + size_t(s) * packed_gate_up_floats(H, Is);
      job.w2 = shared_w2_.as<float>() + size_t(s) * packed_down_floats(H, Is);
      job.inter = Is;
      job.first_row = first;  // every shared expert reads the same rows
      job.rows = tokens;
      job.h_offset = h_offset;
      h_offset += tokens * Is;
      jobs_.push_back(job);
    }
  }

  job_first_unit_.clear();
  int64_t units = 0;
  for (const Job& job : jobs_) {
    job_first_unit_.push_back(units);
    units += gate_up_panels(job.inter) * ceil_div(job.rows, kRowBlock);
  }
  job_first_unit_.push_back(units);
}

void CpuReference::gate_up() {
  const int64_t H = spec_.model.hidden_size;
  const Activation act = spec_.model.activation;
  const DType dtype = spec_.dtype;
  const float* x = dtype == DType::fp8 ? xq_.as<float>() : x_.as<float>();
  const float* zeros = zeros_.as<float>();
  float* h = h_.as<float>();
  parallel_for(job_first_unit_.back(), [&](int64_t begin, int64_t end) {
    size_t ji = size_t(std::upper_bound(job_first_unit_.begin(), job_first_unit_.end(), begin) -
                       job_first_unit_.begin() - 1);
    for (int64_t u = begin; u < end; ++u) {
      while (u >= job_first_unit_[ji + 1]) ++ji;
      const Job& job = jobs_[ji];
      const int64_t blocks = ceil_div(job.rows, kRowBlock);
      const int64_t panel = (u - job_first_unit_[ji]) / blocks, block = (u - job_first_unit_[ji]) % blocks;
      const float* a[kRowBlock];
      for (int i = 0; i < kRowBlock; ++i) {
        int64_t r = block * kRowBlock + i;
        a[i] = r < job.rows ? x + row_token_[size_t(job.first_row + r)] * H : zeros;
      }
      float acc[kRowBlock][kPanelWidth];
      if (job.w13) {
        cpu::micro_kernel(a, job.w13 + panel * H * kPanelWidth, H, acc);
      } else {  // direct: panel column j is gate row c (j < kHalfPanel) or up row inter + c
        const uint16_t* rows[kPanelWidth];
        for (int j = 0; j < kPanelWidth; ++j) {
          const int64_t c = std::min<int64_t>(panel * kHalfPanel + j % kHalfPanel, job.inter - 1);
          rows[j] = job.w13_bits + size_t((j < kHalfPanel ? c : job.inter + c) * H);
        }
        cpu::row_kernel(a, rows, dtype, H, acc);
      }
      for (int i = 0; i < kRowBlock; ++i) {
        int64_t r = block * kRowBlock + i;
        if (r >= job.rows) break;
        float* out = h + job.h_offset + r * job.inter;
        for (int j = 0; j < kHalfPanel; ++j) {
          int64_t c = panel * kHalfPanel + j;
          if (c < job.inter) out[c] = gated_activation(act, acc[i][j], acc[i][kHalfPanel + j]);
        }
      }
    }
  });
}

void CpuReference::quantize_intermediate() {
  float* h = h_.as<float>();
  for (const Job& job : jobs_)
    parallel_for(job.rows, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        fake_quantize_activations_fp8(h + job.h_offset + r * job.inter, job.inter, spec_.fp8_scaling);
    }, 16);
}

void CpuReference::down_and_combine(int64_t tokens, void* out) {
  const int64_t H = spec_.model.hidden_size;
  const DType dtype = spec_.dtype;
  const DType out_dtype = activation_dtype(dtype);
  const float* zeros = zeros_.as<float>();
  const float* h = h_.as<float>();
  float* acc_out = acc_.as<float>();
  uint16_t* y = static_cast<uint16_t*>(out);
  parallel_for(down_panels(H), [&](int64_t begin, int64_t end) {
    for (int64_t panel = begin; panel < end; ++panel) {
      const int64_t c0 = panel * kPanelWidth, width = std::min<int64_t>(kPanelWidth, H - c0);
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t j = 0; j < width; ++j) acc_out[t * H + c0 + j] = 0.0f;
      for (const Job& job : jobs_) {
        for (int64_t r0 = 0; r0 < job.rows; r0 += kRowBlock) {
          const float* a[kRowBlock];
          for (int i = 0; i < kRowBlock; ++i)
            a[i] = r0 + i < job.rows ? h + job.h_offset + (r0 + i) * job.inter : zeros;
          float acc[kRowBlock][kPanelWidth];
          if (job.w2) {
            cpu::micro_kernel(a, job.w2 + panel * job.inter * kPanelWidth, job.inter, acc);
          } else {  // direct: output column c0 + j is row c0 + j of w2
            const uint16_t* rows[kPanelWidth];
            for (int j = 0; j < kPanelWidth; ++j)
              rows[j] = job.w2_bits + size_t((c0 + std::min<int64_t>(j, width - 1)) * job.inter);
            cpu::row_kernel(a, rows, dtype, job.inter, acc);
          }
          for (int i = 0; i < kRowBlock && r0 + i < job.rows; ++i) {
            const int64_t row = job.first_row + r0 + i;
            const float w = row_weight_[size_t(row)];
            float* dst = acc_out + row_token_[size_t(row)] * H + c0;
            for (int64_t j = 0; j < width; ++j) dst[j] += w * acc[i][j];
          }
        }
      }
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t j = 0; j < width; ++j)
          y[t * H + c0 + j] = float_to_half_bits(acc_out[t * H + c0 + j], out_dtype);
    }
  });
}

void CpuReference::forward(const LayerArgs& args) {
  const int64_t T = args.num_tokens, H = spec_.model.hidden_size;
  if (T < 0 || T > spec_.max_tokens)
    throw std::invalid_argument(fmt::format("reference forward(): {} tokens, prepared for at most {}", T,
                                            spec_.max_tokens));
  if (T == 0) return;
  Routing routing = route(spec_.model, args.logits, T, bias_);
  pack_routed(routing);
  const uint16_t* x_bits = static_cast<const uint16_t*>(args.x);
  float* x = x_.as<float>();
  const DType x_dtype = activation_dtype(spec_.dtype);
  parallel_for(T * H, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) x[i] = half_bits_to_float(x_bits[i], x_dtype);
  }, 1 << 14);
  if (spec_.dtype == DType::fp8) {
    float* xq = xq_.as<float>();
    parallel_for(T, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        std::copy(x + t * H, x + (t + 1) * H, xq + t * H);
        fake_quantize_activations_fp8(xq + t * H, H, spec_.fp8_scaling);
      }
    }, 16);
  }
  build_jobs(routing, T);
  gate_up();
  if (spec_.dtype == DType::fp8) quantize_intermediate();
  down_and_combine(T, args.out);
}

}  // namespace

std::unique_ptr<MoeImpl> make_cpu_reference(Backend& backend) { return std::make_unique<CpuReference>(backend); }

}  // namespace moebench
