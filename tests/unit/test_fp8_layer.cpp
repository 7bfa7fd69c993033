// The layer in fp8 on the CPU backend (--dtype fp8): its weights are the bf16 model's of the same
// seed quantised; the reference implementation's fp8 output matches a plain fp64 forward on the
// dequantised weights and quantised activations, for every --fp8-scaling and for shapes that are
// not multiples of 128; the verification's 1e-2 limit refuses outputs that are off by 5% and
// the bf16 layer's output itself; the memory model and the roofline count what the layer holds;
// the job reports the error against bf16 with every result; bad input exits before any work.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "analysis/memory_model.hpp"
#include "analysis/parallel_layout.hpp"
#include "analysis/roofline.hpp"
#include "bench/layer_job.hpp"
#include "bench/verify.hpp"
#include "core/errors.hpp"
#include "core/fp8_scaling.hpp"
#include "layer_fixture.hpp"
#include "moe/fp8_weights.hpp"
#include "unit/job_fixture.hpp"

namespace moebench {
namespace {

using testing::LayerFixture;
using testing::tiny_grouped_model;
using testing::tiny_softmax_model;

constexpr Fp8Scaling kScalings[] = {Fp8Scaling::block, Fp8Scaling::channel, Fp8Scaling::tensor};

// Expert e's dequantised weights, read plainly from the store's bytes and scales.
struct PlainExpert {
  std::vector<double> w13, w2;
};
PlainExpert dequantised(const LayerSpec& spec, const void* q13, const void* q2, const float* s13, const float* s2, int e,
                        int64_t inter) {
  const int64_t H = spec.model.hidden_size;
  const Fp8Scaling s = spec.fp8_scaling;
  const uint8_t* b13 = static_cast<const uint8_t*>(q13) + e * 2 * inter * H;
  const uint8_t* b2 = static_cast<const uint8_t*>(q2) + e * H * inter;
  const float* c13 = s13 + e * fp8_gate_up_scales(s, H, inter);
  const float* c2 = s2 + e * fp8_down_scales(s, H, inter);
  PlainExpert p;
  for (int64_t r = 0; r < 2 * inter; ++r) {
    const bool up = r >= inter;
    const int64_t rr = up ? r - inter : r;
    for (int64_t c = 0; c < H; ++c) {
      const int64_t si = (up ? fp8_weight_scales(s, inter, H) : 0) + fp8_weight_scale_index(s, rr, c, H);
      p.w13.push_back(double(e4m3_to_float(b13[r * H + c])) * c13[si]);
    }
  }
  for (int64_t r = 0; r < H; ++r)
    for (int64_t c = 0; c < inter; ++c)
      p.w2.push_back(double(e4m3_to_float(b2[r * inter + c])) * c2[fp8_weight_scale_index(s, r, c, inter)]);
  return p;
}

// Quantised as an fp8 GEMM's input: per token, per 128-channel group with block scaling.
std::vector<double> quantised(std::vector<double> v, Fp8Scaling s) {
  std::vector<float> f(v.begin(), v.end());
  fake_quantize_activations_fp8(f.data(), int64_t(f.size()), s);
  return std::vector<double>(f.begin(), f.end());
}

// out[t] = sum_j w_j * down(act(gate x', up x'))' with ' the activation quantisation, in double.
std::vector<double> plain_fp8_fp64(const LayerFixture& f) {
  const ModelConfig& m = f.spec.model;
  const int64_t H = m.hidden_size, I = m.moe_intermediate_size, k = m.top_k;
  const LayerWeights& w = f.weights();
  for (int e = 0; e < m.num_experts; ++e) w.ensure_expert(e);
  const Routing routing = route(m, f.logits.data(), f.tokens, f.bias());
  auto expert = [&](const PlainExpert& p, int64_t inter, const std::vector<double>& xq) {
    std::vector<double> a(static_cast<size_t>(inter)), y(size_t(H), 0.0);
    for (int64_t i = 0; i < inter; ++i) {
      double g = 0, u = 0;
      for (int64_t h = 0; h < H; ++h) {
        g += p.w13[size_t(i * H + h)] * xq[size_t(h)];
        u += p.w13[size_t((inter + i) * H + h)] * xq[size_t(h)];
      }
      a[size_t(i)] = gated_activation(m.activation, g, u);
    }
    a = quantised(a, f.spec.fp8_scaling);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < inter; ++i) y[size_t(h)] += p.w2[size_t(h * inter + i)] * a[size_t(i)];
    return y;
  };
  std::vector<double> out(size_t(f.tokens * H), 0.0);
  for (int64_t t = 0; t < f.tokens; ++t) {
    std::vector<double> x(static_cast<size_t>(H));
    for (int64_t h = 0; h < H; ++h) x[size_t(h)] = bf16_to_float(f.x[size_t(t * H + h)]);
    const std::vector<double> xq = quantised(x, f.spec.fp8_scaling);
    for (int64_t j = 0; j < k; ++j) {
      const int e = routing.expert_ids[size_t(t * k + j)];
      const std::vector<double> y = expert(dequantised(f.spec, w.w13, w.w2, w.w13_scale, w.w2_scale, e, I), I, xq);
      for (int64_t h = 0; h < H; ++h) out[size_t(t * H + h)] += routing.weights[size_t(t * k + j)] * y[size_t(h)];
    }
    for (int s = 0; s < m.num_shared_experts; ++s) {
      const int64_t Is = m.shared_intermediate_size;
      const std::vector<double> y =
          expert(dequantised(f.spec, w.shared_w13, w.shared_w2, w.shared_w13_scale, w.shared_w2_scale, s, Is), Is, xq);
      for (int64_t h = 0; h < H; ++h) out[size_t(t * H + h)] += y[size_t(h)];
    }
  }
  return out;
}

double rel_error(const std::vector<uint16_t>& out, const std::vector<double>& ref) {
  double err2 = 0, ref2 = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double o = bf16_to_float(out[i]);
    err2 += (o - ref[i]) * (o - ref[i]);
    ref2 += ref[i] * ref[i];
  }
  return std::sqrt(err2 / ref2);
}

TEST(Fp8Layer, WeightsAreTheBf16ModelQuantised) {
  for (Fp8Scaling s : kScalings) {
    LayerFixture bf16(tiny_grouped_model(), DType::bf16, 4, 11);
    LayerFixture fp8(tiny_grouped_model(), DType::fp8, 4, 11, Scenario::random, s);
    const ModelConfig& m = fp8.spec.model;
    const int64_t H = m.hidden_size, I = m.moe_intermediate_size;
    for (int e : {0, 7}) {
      bf16.weights().ensure_expert(e);
      fp8.weights().ensure_expert(e);
      const auto* w13 = static_cast<const uint16_t*>(bf16.weights().w13) + e * 2 * I * H;
      const auto* w2 = static_cast<const uint16_t*>(bf16.weights().w2) + e * H * I;
      std::vector<uint8_t> q13(size_t(2 * I * H)), q2(size_t(H * I));
      std::vector<float> s13(size_t(fp8_gate_up_scales(s, H, I))), s2(size_t(fp8_down_scales(s, H, I)));
      quantize_expert_fp8(w13, w2, H, I, s, q13.data(), s13.data(), q2.data(), s2.data());
      const auto* b13 = static_cast<const uint8_t*>(fp8.weights().w13) + e * 2 * I * H;
      const auto* b2 = static_cast<const uint8_t*>(fp8.weights().w2) + e * H * I;
      EXPECT_TRUE(std::equal(q13.begin(), q13.end(), b13)) << fp8_scaling_name(s);
      EXPECT_TRUE(std::equal(q2.begin(), q2.end(), b2)) << fp8_scaling_name(s);
      EXPECT_TRUE(std::equal(s13.begin(), s13.end(), fp8.weights().w13_scale + e * s13.size()));
      // Dequantised, each weight is within half an e4m3 step (1/16 relative) of its bf16 value,
      // or within a subnormal step of zero.
      const PlainExpert p = dequantised(fp8.spec, fp8.weights().w13, fp8.weights().w2, fp8.weights().w13_scale,
                                        fp8.weights().w2_scale, e, I);
      const double half_subnormal = double(*std::max_element(s13.begin(), s13.end())) / 1024;
      for (int64_t i = 0; i < 2 * I * H; ++i) {
        const double v = bf16_to_float(w13[i]);
        EXPECT_LE(std::fabs(p.w13[size_t(i)] - v), (std::fabs(v) / 16 + half_subnormal) * 1.001) << i;
      }
    }
  }
}

TEST(Fp8Layer, ReferenceMatchesPlainFp64OnQuantisedValues) {
  for (Fp8Scaling s : kScalings)
    for (const ModelConfig& m : {tiny_softmax_model(), tiny_grouped_model()}) {
      // 68 x 90 and 64 x 40 (with a shared expert of 52): blocks and groups cut short at every edge.
      LayerFixture f(m, DType::fp8, 24, 5, Scenario::random, s);
      const std::vector<uint16_t> out = f.run_reference();
      const double err = rel_error(out, plain_fp8_fp64(f));
      EXPECT_LT(err, 5e-3) << m.name << " " << fp8_scaling_name(s);
      const VerifyResult v =
          verify_layer_output(*f.backend, f.spec, f.weights(), f.x.data(), f.logits.data(), f.tokens, out.data());
      EXPECT_TRUE(v.passed) << m.name << " " << fp8_scaling_name(s) << " " << v.rel_error;
      EXPECT_LT(v.rel_error, 5e-3);
    }
}

TEST(Fp8Layer, VerificationRefusesOffOutputsAndTheBf16Output) {
  LayerFixture f(tiny_grouped_model(), DType::fp8, 16, 3);
  std::vector<uint16_t> off = f.run_reference();
  for (uint16_t& b : off) b = float_to_bf16(bf16_to_float(b) * 1.05f);
  EXPECT_FALSE(
      verify_layer_output(*f.backend, f.spec, f.weights(), f.x.data(), f.logits.data(), f.tokens, off.data()).passed);
  // The bf16 layer of the same seed, on the same input: not what the fp8 layer computes.
  LayerFixture bf16(tiny_grouped_model(), DType::bf16, 16, 3);
  ASSERT_EQ(bf16.x, f.x);
  const std::vector<uint16_t> bf16_out = bf16.run_reference();
  const VerifyResult v =
      verify_layer_output(*f.backend, f.spec, f.weights(), f.x.data(), f.logits.data(), f.tokens, bf16_out.data());
  EXPECT_FALSE(v.passed) << v.rel_error;
  EXPECT_GT(v.rel_error, 1e-2);
  EXPECT_EQ(verify_tolerance(DType::fp8), 1e-2);
}

TEST(Fp8Layer, MemoryModelAndRooflineCountWhatTheLayerHolds) {
  ModelConfig m = tiny_grouped_model();
  m.hidden_size = 300;  // 3 x 3 blocks of gate/up, ragged
  m.moe_intermediate_size = 200;
  m.shared_intermediate_size = 130;
  LayerFixture f(m, DType::fp8, 2, 1);
  const int64_t bias = m.num_experts * 4;
  EXPECT_EQ(f.store->bytes() - bias, moe_layer_expert_bytes(m, DType::fp8, ParallelLayout{}));
  for (Fp8Scaling s : kScalings) {
    LayerFixture g(m, DType::fp8, 2, 1, Scenario::random, s);
    const double expected = double(m.num_experts) * expert_weight_bytes(300, 200, DType::fp8, s) +
                            expert_weight_bytes(300, 130, DType::fp8, s);
    EXPECT_EQ(double(g.store->bytes() - bias), expected) << fp8_scaling_name(s);
  }
  // Per expert of 300 x 200: 3 x 2 blocks for gate, for up and for down (2 x 3), 180000 bytes.
  EXPECT_EQ(expert_weight_bytes(300, 200, DType::fp8, Fp8Scaling::block), 180000.0 + 4 * 18);
  EXPECT_EQ(expert_weight_bytes(300, 200, DType::fp8, Fp8Scaling::channel), 180000.0 + 4 * (200 + 200 + 300));
  EXPECT_EQ(expert_weight_bytes(300, 200, DType::fp8, Fp8Scaling::tensor), 180000.0 + 4 * 3);
  const LayerWork w8 = layer_work(m, 10, DType::fp8, 5);
  EXPECT_EQ(w8.bytes_min, 5 * (180000.0 + 72) + expert_weight_bytes(300, 130, DType::fp8, Fp8Scaling::block) +
                              2.0 * 10 * 300 * 2);
  const LayerWork w16 = layer_work(m, 10, DType::bf16, 5);
  EXPECT_EQ(w16.bytes_min, 5 * 360000.0 + 3.0 * 300 * 130 * 2 + 2.0 * 10 * 300 * 2);
  EXPECT_EQ(w8.flops, w16.flops);
}

using testing::ScratchDir;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

LayerJob fp8_job(const ScratchDir& dir) {
  LayerJob job;
  job.backend = "cpu";
  job.model.manual = true;
  job.model.num_experts = 8;
  job.model.top_k = 2;
  job.model.hidden_size = 160;
  job.model.intermediate_size = 96;
  job.num_tokens = {16};
  job.scenarios = {"random"};
  job.impls = {"reference"};
  job.benchmark_iters = 2;
  job.quiet = true;
  job.dtype = "fp8";
  job.record.results_db = dir.file("results.db");
  return job;
}

TEST(Fp8Layer, JobReportsTheErrorAgainstBf16WithEveryResult) {
  for (const char* scaling : {"", "channel", "tensor"}) {
    ScratchDir dir("fp8-layer-job");
    LayerJob job = fp8_job(dir);
    job.fp8_scaling = scaling;
    job.output_format = "csv";
    job.output_file = dir.file("fp8");
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    const int code = run_layer_job(job, "moebench layer --dtype fp8");
    const std::string out = ::testing::internal::GetCapturedStdout();
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(code, 0) << err << out;
    EXPECT_NE(out.find("(vs bf16 "), std::string::npos) << out;
    const std::vector<RunRecord> records = testing::stored_records(job.record.results_db);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].status, RunStatus::success);
    EXPECT_EQ(records[0].params["dtype"], "fp8");
    const std::string expect_scaling = *scaling ? scaling : "block";
    EXPECT_EQ(records[0].params["fp8_scaling"], expect_scaling);
    const double verify = records[0].metrics["verify_rel_error"].get<double>();
    const double vs_bf16 = records[0].metrics["fp8_vs_bf16_rel_error"].get<double>();
    EXPECT_LT(verify, 1e-2);
    // What fp8 costs: more than the check's own error, and of the size e4m3's 3 bits give.
    EXPECT_GT(vs_bf16, verify);
    EXPECT_GT(vs_bf16, 5e-3);
    EXPECT_LT(vs_bf16, 0.2);
    EXPECT_NE(read_text(dir.file("fp8.csv")).find("fp8_vs_bf16_rel_error"), std::string::npos);
  }
}

TEST(Fp8Layer, BadInputIsRefusedBeforeAnyWork) {
  ScratchDir dir("fp8-layer-bad");
  auto expect_refused = [&](const LayerJob& job, const std::string& message_part) {
    try {
      run_layer_job(job, "moebench layer");
      ADD_FAILURE() << "no InputError for " << message_part;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(message_part), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(job.record.results_db)) << message_part;
  };
  LayerJob job = fp8_job(dir);
  job.fp8_scaling = "row";
  expect_refused(job, "--fp8-scaling 'row'");
  job = fp8_job(dir);
  job.dtype = "fp16";
  job.fp8_scaling = "channel";
  expect_refused(job, "--fp8-scaling channel: applies to --dtype fp8 only");
  job = fp8_job(dir);
  job.impls = {"ep"};
  expect_refused(job, "--impl ep: fp8 runs on the reference implementation");
  job = fp8_job(dir);
  job.tp_size = 2;
  expect_refused(job, "--dtype fp8 --tp-size 2");
  EXPECT_THROW(layer_run_options(fp8_job(dir), BackendKind::cuda), InputError);
  try {
    layer_run_options(fp8_job(dir), BackendKind::cuda);
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "--dtype fp8: no CUDA fp8 implementation in this build; run fp8 with --backend cpu");
  }
}

}  // namespace
}  // namespace moebench
