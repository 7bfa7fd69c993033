// The CPU reference layer and the fp64 verifier's reference, each held against the plain
// per-token double loop of layer_fixture.hpp.
#include <gtest/gtest.h>

#include <cmath>

#include "bench/verify.hpp"
#include "core/errors.hpp"
#include "layer_fixture.hpp"

namespace moebench {
namespace {

using testing::LayerFixture;
using testing::plain_moe_fp64;
using testing::relative_error;
using testing::tiny_grouped_model;
using testing::tiny_softmax_model;
using testing::to_double;

struct Case {
  const char* name;
  ModelConfig model;
  DType dtype;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

ModelConfig with_shared(ModelConfig m, int count, int64_t inter, bool gate) {
  m.num_shared_experts = count;
  m.shared_intermediate_size = inter;
  m.shared_expert_gate = gate;
  m.validate(true);
  return m;
}

ModelConfig without_renorm(ModelConfig m) {
  m.norm_topk_prob = false;
  m.routed_scaling_factor = 1.5;
  return m;
}

std::vector<Case> cases() {
  return {
      {"silu_bf16", tiny_softmax_model(Activation::silu), DType::bf16},
      {"silu_fp16", tiny_softmax_model(Activation::silu), DType::fp16},
      {"gelu_bf16_no_renorm", without_renorm(tiny_softmax_model(Activation::gelu)), DType::bf16},
      {"swigluoai_fp16", tiny_softmax_model(Activation::swigluoai), DType::fp16},
      {"silu_two_shared_bf16", with_shared(tiny_softmax_model(), 2, 44, false), DType::bf16},
      {"gelu_gated_shared_fp16", with_shared(tiny_softmax_model(Activation::gelu), 1, 36, true), DType::fp16},
      {"swigluoai_gated_shared_bf16", with_shared(tiny_softmax_model(Activation::swigluoai), 1, 36, true),
       DType::bf16},
      {"grouped_sigmoid_bf16", tiny_grouped_model(), DType::bf16},
      {"grouped_sigmoid_fp16", tiny_grouped_model(), DType::fp16},
  };
}

class ReferenceLayer : public ::testing::TestWithParam<Case> {};

// The reference keeps float accumulators and rounds once, at the output: it must match the
// exact result rounded to the dtype almost everywhere (a flip of one ulp where float and
// double straddle a rounding boundary), and the exact result to within that rounding.
TEST_P(ReferenceLayer, MatchesPlainDoubleLoop) {
  const Case& c = GetParam();
  LayerFixture f(c.model, c.dtype, 37);
  std::vector<double> out = to_double(f.run_reference(), c.dtype);
  std::vector<double> exact = plain_moe_fp64(f);
  std::vector<double> rounded(exact.size());
  for (size_t i = 0; i < exact.size(); ++i) rounded[i] = round_to_dtype(float(exact[i]), c.dtype);

  EXPECT_LT(relative_error(out, rounded), 1e-3);
  // Rounding to the dtype alone: unit roundoff 2^-8 (bf16) or 2^-11 (fp16), rms well below it.
  EXPECT_LT(relative_error(out, exact), c.dtype == DType::bf16 ? 3e-3 : 4e-4);
  size_t exact_matches = 0;
  for (size_t i = 0; i < out.size(); ++i) exact_matches += out[i] == rounded[i];
  EXPECT_GT(double(exact_matches), 0.98 * double(out.size()));
}

TEST_P(ReferenceLayer, Fp64ReferenceMatchesPlainDoubleLoop) {
  const Case& c = GetParam();
  LayerFixture f(c.model, c.dtype, 23);
  std::vector<int64_t> tokens;
  for (int64_t t = 0; t < f.tokens; ++t) tokens.push_back(t);
  std::vector<double> ref =
      reference_forward_fp64(*f.backend, f.spec, f.weights(), f.x.data(), f.logits.data(), tokens);
  EXPECT_LT(relative_error(ref, plain_moe_fp64(f)), 1e-12);

  // A subset, out of order, gives the same rows.
  std::vector<int64_t> some = {20, 3, 11};
  std::vector<double> part =
      reference_forward_fp64(*f.backend, f.spec, f.weights(), f.x.data(), f.logits.data(), some);
  const int64_t H = c.model.hidden_size;
  for (size_t i = 0; i < some.size(); ++i)
    for (int64_t h = 0; h < H; ++h)
      ASSERT_EQ(part[i * size_t(H) + size_t(h)], ref[size_t(some[i] * H + h)]);
}

INSTANTIATE_TEST_SUITE_P(Models, ReferenceLayer, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(ReferenceLayerRuns, DeterministicAndEveryElementWritten) {
  LayerFixture f(tiny_grouped_model(), DType::bf16, 130, 3, Scenario::imbalanced);
  std::vector<uint16_t> a = f.run_reference(), b = f.run_reference();
  EXPECT_EQ(a, b);
  for (uint16_t v : a) ASSERT_FALSE(std::isnan(bf16_to_float(v)));
}

TEST(ReferenceLayerRuns, FewerTokensThanPreparedFor) {
  LayerFixture f(tiny_softmax_model(), DType::bf16, 40);
  std::vector<uint16_t> full = f.run_reference();

  std::unique_ptr<MoeImpl> impl = all_impls().front().make(*f.backend);
  impl->prepare(f.spec, f.weights());
  const int64_t H = f.spec.model.hidden_size, T = 9;
  std::vector<uint16_t> out(size_t((T + 1) * H), 0xFFFF);
  LayerArgs args{f.x.data(), f.logits.data(), out.data(), T};
  impl->forward(args);
  // Tokens are independent: the first 9 rows are those of the full batch, row 10 untouched.
  for (int64_t i = 0; i < T * H; ++i) ASSERT_EQ(out[size_t(i)], full[size_t(i)]);
  for (int64_t i = T * H; i < (T + 1) * H; ++i) ASSERT_EQ(out[size_t(i)], 0xFFFF);

  args.num_tokens = 0;
  EXPECT_NO_THROW(impl->forward(args));
  args.num_tokens = 41;
  EXPECT_THROW(impl->forward(args), std::invalid_argument);
}

// An expert that few rows reach runs from its 16-bit weights (row_kernel), one that many reach
// from packed floats; the arithmetic is the same, so each token of a batch gets the same bits
// when it runs alone (every expert direct) as inside the whole batch (most experts packed).
TEST(ReferenceLayerRuns, AloneOrInABatchATokenGetsTheSameBits) {
  for (DType dtype : {DType::bf16, DType::fp16}) {
    LayerFixture f(tiny_softmax_model(), dtype, 40);
    const std::vector<uint16_t> full = f.run_reference();
    std::unique_ptr<MoeImpl> impl = all_impls().front().make(*f.backend);
    impl->prepare(f.spec, f.weights());
    const int64_t H = f.spec.model.hidden_size, E = f.spec.model.num_experts;
    ASSERT_GT(40 * f.spec.model.top_k / E, 4) << "the whole batch must give some expert more than 4 rows";
    for (int64_t t : {0, 17, 39}) {
      std::vector<uint16_t> out(size_t(H), 0xFFFF);
      LayerArgs args{f.x.data() + size_t(t * H), f.logits.data() + size_t(t * E), out.data(), 1};
      impl->forward(args);
      for (int64_t c = 0; c < H; ++c) ASSERT_EQ(out[size_t(c)], full[size_t(t * H + c)]) << dtype_name(dtype) << " token " << t;
    }
  }
}

// One prepared implementation serves every layer of a model: binding another layer's weights
// gives exactly what an implementation prepared on them gives, and binding back restores the first.
TEST(ReferenceLayerRuns, BindWeightsServesAnotherLayer) {
  LayerFixture a(tiny_grouped_model(), DType::bf16, 24, 3), b(tiny_grouped_model(), DType::bf16, 24, 4);
  b.x = a.x;
  b.logits = a.logits;
  const std::vector<uint16_t> with_a = a.run_reference(), with_b = b.run_reference();
  ASSERT_NE(with_a, with_b);

  std::unique_ptr<MoeImpl> impl = all_impls().front().make(*a.backend);
  impl->prepare(a.spec, a.weights());
  std::vector<uint16_t> out(a.x.size(), 0xFFFF);
  LayerArgs args{a.x.data(), a.logits.data(), out.data(), a.tokens};
  impl->bind_weights(b.weights());
  impl->forward(args);
  EXPECT_EQ(out, with_b);
  impl->bind_weights(a.weights());
  impl->forward(args);
  EXPECT_EQ(out, with_a);
}

// fp8 runs (test_fp8_layer.cpp); fp32 weights are no layer dtype.
TEST(ReferenceLayerRuns, RejectsFp32) {
  LayerFixture f(tiny_softmax_model(), DType::bf16, 4);
  LayerSpec spec = f.spec;
  spec.dtype = DType::fp32;
  std::unique_ptr<MoeImpl> impl = all_impls().front().make(*f.backend);
  EXPECT_THROW(impl->prepare(spec, f.weights()), InputError);
}

}  // namespace
}  // namespace moebench
