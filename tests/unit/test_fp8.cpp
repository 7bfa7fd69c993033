// The e4m3 codec and the fp8 scaling recipes (core/fp8.hpp, core/fp8_scaling.hpp): exact
// encodings of known values, round-to-nearest-even at ties, saturation, NaN, every byte's
// round trip, the scales of 128x128 blocks, channels and tensors, per-token activation groups,
// and shapes that are not multiples of 128.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/errors.hpp"
#include "core/fp8.hpp"
#include "core/fp8_scaling.hpp"

namespace moebench {
namespace {

TEST(E4m3, KnownEncodings) {
  EXPECT_EQ(float_to_e4m3(0.0f), 0x00);
  EXPECT_EQ(float_to_e4m3(-0.0f), 0x80);
  EXPECT_EQ(float_to_e4m3(1.0f), 0x38);
  EXPECT_EQ(float_to_e4m3(-2.0f), 0xc0);
  EXPECT_EQ(float_to_e4m3(448.0f), 0x7e);
  EXPECT_EQ(float_to_e4m3(-448.0f), 0xfe);
  EXPECT_EQ(float_to_e4m3(0.0625f), 0x18);           // 2^-4: exponent field 3
  EXPECT_EQ(float_to_e4m3(0.015625f), 0x08);         // 2^-6: smallest normal
  EXPECT_EQ(float_to_e4m3(0.001953125f), 0x01);      // 2^-9: smallest subnormal
  EXPECT_EQ(float_to_e4m3(7 * 0.001953125f), 0x07);  // largest subnormal
  EXPECT_EQ(float_to_e4m3(1.125f), 0x39);
  EXPECT_EQ(float_to_e4m3(240.0f), 0x77);
  EXPECT_EQ(e4m3_to_float(0x7e), 448.0f);
  EXPECT_EQ(e4m3_to_float(0x01), 0.001953125f);
  EXPECT_EQ(e4m3_to_float(0x18), 0.0625f);
  EXPECT_EQ(e4m3_to_float(0x20), 0.125f);
  EXPECT_EQ(e4m3_to_float(0xb8), -1.0f);
}

TEST(E4m3, RoundsToNearestEvenAtTies) {
  EXPECT_EQ(float_to_e4m3(1.0625f), 0x38);  // halfway 1.0 / 1.125: to even (1.0)
  EXPECT_EQ(float_to_e4m3(1.1875f), 0x3a);  // halfway 1.125 / 1.25: to even (1.25)
  EXPECT_EQ(float_to_e4m3(1.07f), 0x39);    // past halfway: up
  EXPECT_EQ(float_to_e4m3(0.5f * 0.001953125f), 0x00);  // half the smallest subnormal: to 0
  EXPECT_EQ(float_to_e4m3(1.5f * 0.001953125f), 0x02);  // 1.5 steps: to 2
  EXPECT_EQ(float_to_e4m3(2.5f * 0.001953125f), 0x02);  // 2.5 steps: to 2
  EXPECT_EQ(float_to_e4m3(7.5f * 0.001953125f), 0x08);  // rounds up into the smallest normal
  EXPECT_EQ(float_to_e4m3(0.6f * 0.001953125f), 0x01);
  EXPECT_EQ(float_to_e4m3(-1.0625f), 0xb8);
}

TEST(E4m3, SaturatesAndKeepsNaN) {
  EXPECT_EQ(float_to_e4m3(449.0f), 0x7e);
  EXPECT_EQ(float_to_e4m3(464.0f), 0x7e);
  EXPECT_EQ(float_to_e4m3(1e6f), 0x7e);
  EXPECT_EQ(float_to_e4m3(-1e6f), 0xfe);
  EXPECT_EQ(float_to_e4m3(std::numeric_limits<float>::infinity()), 0x7e);
  EXPECT_EQ(float_to_e4m3(-std::numeric_limits<float>::infinity()), 0xfe);
  EXPECT_EQ(float_to_e4m3(std::numeric_limits<float>::quiet_NaN()) & 0x7f, 0x7f);
  EXPECT_TRUE(std::isnan(e4m3_to_float(0x7f)));
  EXPECT_TRUE(std::isnan(e4m3_to_float(0xff)));
  EXPECT_EQ(float_to_e4m3(1e-30f), 0x00);
}

TEST(E4m3, EveryByteRoundTripsAndOrderIsMonotonic) {
  float previous = -1.0f;
  for (int b = 0; b < 256; ++b) {
    if ((b & 0x7f) == 0x7f) continue;  // NaN
    const float v = e4m3_to_float(uint8_t(b));
    EXPECT_EQ(float_to_e4m3(v), uint8_t(b)) << b;
    if (b < 0x7f) {
      EXPECT_GT(v, previous) << b;
      previous = v;
    }
  }
}

TEST(E4m3, RoundsToTheNearestValue) {
  // Brute force against the list of representable values: nearest, ties to the even byte.
  std::vector<float> values;
  for (int b = 0; b <= 0x7e; ++b) values.push_back(e4m3_to_float(uint8_t(b)));
  for (float x = 0.0f; x < 448.0f; x = x * 1.0137f + 1e-4f) {
    int best = 0;
    for (int b = 1; b <= 0x7e; ++b) {
      const float d = std::fabs(values[size_t(b)] - x), db = std::fabs(values[size_t(best)] - x);
      if (d < db || (d == db && (b & 1) == 0)) best = b;
    }
    EXPECT_EQ(float_to_e4m3(x), uint8_t(best)) << x;
  }
}

std::vector<float> ramp(int64_t rows, int64_t cols) {
  std::vector<float> v(size_t(rows * cols));
  for (int64_t i = 0; i < rows * cols; ++i) v[size_t(i)] = std::sin(float(i) * 0.37f) * (1.0f + float(i % 7));
  return v;
}

TEST(Fp8Scaling, BlockScalesAreAmaxOver448PerBlockOnRaggedShapes) {
  const int64_t rows = 300, cols = 200;  // blocks of 128, 128, 44 rows x 128, 72 columns
  std::vector<float> v = ramp(rows, cols);
  v[size_t(5 * cols + 130)] = 900.0f;  // block (0, 1)
  ASSERT_EQ(fp8_weight_scales(Fp8Scaling::block, rows, cols), 6);
  std::vector<uint8_t> q(v.size());
  std::vector<float> scales(6);
  quantize_weights_fp8(v.data(), rows, cols, Fp8Scaling::block, q.data(), scales.data());
  for (int64_t br = 0; br < 3; ++br)
    for (int64_t bc = 0; bc < 2; ++bc) {
      float amax = 0;
      for (int64_t r = br * 128; r < std::min<int64_t>(rows, br * 128 + 128); ++r)
        for (int64_t c = bc * 128; c < std::min<int64_t>(cols, bc * 128 + 128); ++c)
          amax = std::max(amax, std::fabs(v[size_t(r * cols + c)]));
      EXPECT_EQ(scales[size_t(br * 2 + bc)], amax / 448.0f);
    }
  EXPECT_EQ(scales[1], 900.0f / 448.0f);
  EXPECT_EQ(q[size_t(5 * cols + 130)], 0x7e);  // the block's largest value encodes as 448
  EXPECT_EQ(fp8_weight_scale_index(Fp8Scaling::block, 299, 199, cols), 5);
  // Dequantised values are within half an e4m3 step (relative 1/16) or one subnormal step.
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float s = scales[size_t(fp8_weight_scale_index(Fp8Scaling::block, r, c, cols))];
      const float back = e4m3_to_float(q[size_t(r * cols + c)]) * s, x = v[size_t(r * cols + c)];
      EXPECT_LE(std::fabs(back - x), std::max(std::fabs(x) / 16.0f, s * 0.001953125f * 0.5f) * 1.0001f);
    }
}

TEST(Fp8Scaling, ChannelAndTensorScales) {
  const int64_t rows = 3, cols = 130;
  std::vector<float> v = ramp(rows, cols);
  std::vector<uint8_t> q(v.size());
  std::vector<float> channel(3), tensor(1);
  quantize_weights_fp8(v.data(), rows, cols, Fp8Scaling::channel, q.data(), channel.data());
  float all = 0;
  for (int64_t r = 0; r < rows; ++r) {
    float amax = 0;
    for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(v[size_t(r * cols + c)]));
    EXPECT_EQ(channel[size_t(r)], amax / 448.0f);
    all = std::max(all, amax);
  }
  quantize_weights_fp8(v.data(), rows, cols, Fp8Scaling::tensor, q.data(), tensor.data());
  EXPECT_EQ(tensor[0], all / 448.0f);
  EXPECT_EQ(fp8_weight_scales(Fp8Scaling::channel, 7, 9), 7);
  EXPECT_EQ(fp8_weight_scales(Fp8Scaling::tensor, 7, 9), 1);
}

TEST(Fp8Scaling, ActivationsPerTokenGroup) {
  std::vector<float> x(300);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 128) * 0.01f + (i >= 256 ? 50.0f : 0.0f);
  ASSERT_EQ(fp8_activation_scales(Fp8Scaling::block, 300), 3);
  ASSERT_EQ(fp8_activation_scales(Fp8Scaling::channel, 300), 1);
  std::vector<uint8_t> q(300);
  std::vector<float> s(3);
  quantize_activations_fp8(x.data(), 300, Fp8Scaling::block, q.data(), s.data());
  EXPECT_EQ(s[0], 1.27f / 448.0f);
  EXPECT_EQ(s[2], x[299] / 448.0f);  // the last, 44-wide group
  EXPECT_EQ(q[127], 0x7e);
  std::vector<float> fake = x;
  fake_quantize_activations_fp8(fake.data(), 300, Fp8Scaling::block);
  for (size_t i = 0; i < 300; ++i) EXPECT_EQ(fake[i], e4m3_to_float(q[i]) * s[i / 128]);
  // Per token: one scale, so the small first group loses more than with groups.
  std::vector<float> token = x;
  fake_quantize_activations_fp8(token.data(), 300, Fp8Scaling::tensor);
  double err_group = 0, err_token = 0;
  for (size_t i = 0; i < 256; ++i) {
    err_group += std::fabs(fake[i] - x[i]);
    err_token += std::fabs(token[i] - x[i]);
  }
  EXPECT_LT(err_group, err_token);
  // All zeros: scale 1, values 0.
  std::vector<float> zeros(10, 0.0f);
  quantize_activations_fp8(zeros.data(), 10, Fp8Scaling::block, q.data(), s.data());
  EXPECT_EQ(s[0], 1.0f);
  EXPECT_EQ(q[0], 0);
}

TEST(Fp8Scaling, Names) {
  EXPECT_EQ(parse_fp8_scaling("block"), Fp8Scaling::block);
  EXPECT_EQ(parse_fp8_scaling("channel"), Fp8Scaling::channel);
  EXPECT_EQ(parse_fp8_scaling("tensor"), Fp8Scaling::tensor);
  EXPECT_STREQ(fp8_scaling_name(Fp8Scaling::channel), "channel");
  EXPECT_THROW(parse_fp8_scaling("row"), InputError);
}

}  // namespace
}  // namespace moebench
