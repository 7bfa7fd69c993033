// verify_layer_output: passes the reference's output, fails outputs that are wrong in each of
// the ways an implementation goes wrong (numerically off, an element unwritten, a token
// dropped), samples tokens as documented and leaves near-ties out.
#include <gtest/gtest.h>

#include <cmath>

#include "bench/verify.hpp"
#include "core/errors.hpp"
#include "layer_fixture.hpp"

namespace moebench {
namespace {

using testing::LayerFixture;
using testing::tiny_grouped_model;
using testing::tiny_softmax_model;

VerifyResult check(const LayerFixture& f, const std::vector<uint16_t>& out, int64_t max_tokens = 64) {
  return verify_layer_output(*f.backend, f.spec, f.weights(), f.x.data(), f.logits.data(), f.tokens, out.data(),
                             max_tokens);
}

std::vector<uint16_t> scaled(const std::vector<uint16_t>& out, DType dtype, float factor) {
  std::vector<uint16_t> r(out.size());
  for (size_t i = 0; i < out.size(); ++i)
    r[i] = float_to_half_bits(half_bits_to_float(out[i], dtype) * factor, dtype);
  return r;
}

TEST(Verify, OneReferenceChecksEveryOutputOfItsCase) {
  // The layer runner checks every implementation of a case against one reference: a reference
  // made once must judge each output as a reference made for it would.
  LayerFixture f(tiny_grouped_model(), DType::bf16, 37);
  const std::vector<uint16_t> good = f.run_reference();
  const LayerReference ref =
      make_layer_reference(*f.backend, f.spec, f.weights(), f.x.data(), f.logits.data(), f.tokens);
  EXPECT_EQ(ref.checked.size(), 37u);
  for (const std::vector<uint16_t>& out : {good, scaled(good, DType::bf16, 1.05f), good}) {
    const VerifyResult shared = check_against_reference(ref, out.data());
    const VerifyResult fresh = check(f, out);
    EXPECT_EQ(shared.passed, fresh.passed);
    EXPECT_EQ(shared.rel_error, fresh.rel_error);
    EXPECT_EQ(shared.tokens_checked, fresh.tokens_checked);
    EXPECT_EQ(shared.unwritten, fresh.unwritten);
  }
  EXPECT_FALSE(check_against_reference(ref, scaled(good, DType::bf16, 1.05f).data()).passed);
}

TEST(Verify, Tolerances) {
  EXPECT_EQ(verify_tolerance(DType::bf16), 2e-2);
  EXPECT_EQ(verify_tolerance(DType::fp16), 2e-2);
}

TEST(Verify, PassesTheReferenceOutput) {
  for (DType dtype : {DType::bf16, DType::fp16}) {
    for (const ModelConfig& m : {tiny_softmax_model(), tiny_grouped_model()}) {
      SCOPED_TRACE(std::string(m.name) + " " + dtype_name(dtype));
      LayerFixture f(m, dtype, 37);
      VerifyResult v = check(f, f.run_reference());
      EXPECT_TRUE(v.passed);
      EXPECT_LT(v.rel_error, dtype == DType::bf16 ? 3e-3 : 4e-4);
      EXPECT_EQ(v.tokens_checked, 37);
      EXPECT_EQ(v.tokens_ambiguous, 0);
      EXPECT_EQ(v.unwritten, 0);
    }
  }
}

TEST(Verify, FailsAPerturbedOutput) {
  LayerFixture f(tiny_grouped_model(), DType::bf16, 37);
  std::vector<uint16_t> out = f.run_reference();
  VerifyResult close = check(f, scaled(out, DType::bf16, 1.005f));
  EXPECT_TRUE(close.passed) << close.rel_error;
  VerifyResult off = check(f, scaled(out, DType::bf16, 1.05f));
  EXPECT_FALSE(off.passed);
  EXPECT_NEAR(off.rel_error, 0.05, 0.01);
}

TEST(Verify, FailsOneNaNAnywhere) {
  LayerFixture f(tiny_softmax_model(), DType::bf16, 200);
  std::vector<uint16_t> out = f.run_reference();
  // Token 1 is not among the 16 sampled (0, 13, 27, ...): the NaN scan covers every element.
  out[size_t(1 * f.spec.model.hidden_size + 5)] = 0xFFFF;
  VerifyResult v = check(f, out, 16);
  EXPECT_FALSE(v.passed);
  EXPECT_EQ(v.unwritten, 1);
  EXPECT_EQ(v.tokens_checked, 16);
  EXPECT_LT(v.rel_error, 1e-2);  // the sampled tokens themselves are right

  // A NaN in a checked token fails as well, fp16 poison included.
  LayerFixture g(tiny_softmax_model(), DType::fp16, 20);
  std::vector<uint16_t> out16 = g.run_reference();
  out16[7] = 0xFFFF;
  VerifyResult w = check(g, out16);
  EXPECT_FALSE(w.passed);
  EXPECT_EQ(w.unwritten, 1);
}

TEST(Verify, FailsWithOneTokenZeroed) {
  LayerFixture f(tiny_softmax_model(), DType::bf16, 37);
  std::vector<uint16_t> out = f.run_reference();
  const int64_t H = f.spec.model.hidden_size;
  std::fill(out.begin() + 17 * H, out.begin() + 18 * H, uint16_t(0));
  VerifyResult v = check(f, out);
  EXPECT_FALSE(v.passed);
  EXPECT_GT(v.rel_error, 2e-2);
  EXPECT_EQ(v.unwritten, 0);

  // With sampling, the last token is always among those checked.
  LayerFixture g(tiny_grouped_model(), DType::bf16, 300);
  std::vector<uint16_t> out_g = g.run_reference();
  std::fill(out_g.end() - g.spec.model.hidden_size, out_g.end(), uint16_t(0));
  EXPECT_TRUE(check(g, g.run_reference(), 8).passed);
  VerifyResult w = check(g, out_g, 8);
  EXPECT_FALSE(w.passed);
  EXPECT_EQ(w.tokens_checked, 8);
}

TEST(Verify, SamplesUpToMaxTokens) {
  LayerFixture f(tiny_softmax_model(), DType::bf16, 10);
  std::vector<uint16_t> out = f.run_reference();
  EXPECT_EQ(check(f, out, 64).tokens_checked, 10);
  EXPECT_EQ(check(f, out, 3).tokens_checked, 3);
  EXPECT_EQ(check(f, out, 1).tokens_checked, 1);
  EXPECT_THROW(check(f, out, 0), InputError);
}

TEST(Verify, LeavesNearTiesOut) {
  LayerFixture f(tiny_softmax_model(), DType::bf16, 12);
  const int E = f.spec.model.num_experts;
  auto row = [&](int t) { return f.logits.data() + t * E; };
  // Token 2: the 2nd and 3rd best logits are equal; token 5: they differ by 1e-7 relative.
  std::fill(row(2), row(2) + E, -1.0f);
  row(2)[4] = 3.0f;
  row(2)[1] = row(2)[6] = 2.0f;
  std::fill(row(5), row(5) + E, -1.0f);
  row(5)[0] = 3.0f;
  row(5)[3] = 2.0f;
  row(5)[7] = std::nextafter(2.0f, 3.0f);
  VerifyResult v = check(f, f.run_reference());
  EXPECT_TRUE(v.passed);
  EXPECT_EQ(v.tokens_ambiguous, 2);
  EXPECT_EQ(v.tokens_checked, 10);

  // When no sampled token can be checked, nothing was verified: that fails.
  std::fill(f.logits.begin(), f.logits.end(), 0.5f);
  VerifyResult none = check(f, f.run_reference());
  EXPECT_EQ(none.tokens_checked, 0);
  EXPECT_FALSE(none.passed);
}

TEST(Verify, RejectsOtherDtypes) {
  LayerFixture f(tiny_softmax_model(), DType::bf16, 4);
  std::vector<uint16_t> out = f.run_reference();
  f.spec.dtype = DType::fp32;  // fp8 is checked (test_fp8_layer.cpp); fp32 is no layer dtype
  EXPECT_THROW(check(f, out), InputError);
}

}  // namespace
}  // namespace moebench
