// The attention kernels (model/cuda/attention.cuh) against an fp64 CPU reference of the same
// function: causal prefill (GQA, chunked with start_pos > 0, odd lengths) and split-K decode
// (per-sequence contexts read on the device, a CUDA graph replayed as they change). Inputs are
// fresh random values, outputs are poisoned with NaN before each run, and the cache past the
// keys a call may read is NaN too: a kernel that reads it, or leaves an output unwritten, fails.
// The last test times the target shapes and prints TFLOP/s and GB/s without asserting on them.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/cuda_backend.hpp"
#include "bench/statistics.hpp"
#include "gpu_test_util.hpp"
#include "model/cuda/attention.cuh"

using namespace moebench;

namespace {

constexpr uint8_t kPoisonByte = 0xFF;  // 0xFFFF is NaN in bf16 and in fp16
constexpr double kMaxRelError = 2e-2;  // over the whole output
constexpr double kMaxRowError = 5e-2;  // over any one output row: catches a single wrong row

// One attention call's tensors on the device, with host copies for the reference.
struct AttentionData {
  AttentionShape shape;
  DType dtype = DType::bf16;
  int q_rows = 0;  // rows of q/out per sequence: q_len for prefill, 1 for decode
  DeviceBuffer q, k, v, out;
  std::vector<float> q_host, k_host, v_host;  // the device values, converted once for the reference

  size_t q_elems() const { return size_t(shape.batch) * q_rows * shape.num_heads * shape.head_dim; }
  size_t cache_elems() const { return size_t(shape.batch) * shape.max_context * shape.num_kv_heads * shape.head_dim; }
  size_t cache_row() const { return size_t(shape.num_kv_heads) * shape.head_dim; }
};

AttentionShape make_shape(int batch, int kv_heads, int group, int head_dim, int max_context) {
  AttentionShape s;
  s.batch = batch;
  s.num_kv_heads = kv_heads;
  s.num_heads = kv_heads * group;
  s.head_dim = head_dim;
  s.max_context = max_context;
  s.softmax_scale = float(1.0 / std::sqrt(double(head_dim)));
  return s;
}

std::vector<float> download_floats(Backend& gpu, const void* src, size_t count, DType dtype) {
  std::vector<uint16_t> bits(count);
  gpu.copy_to_host(bits.data(), src, count * 2);
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = half_bits_to_float(bits[i], dtype);
  return values;
}

// Fresh random q, K and V (uniform, variance 1; q larger so the softmax is peaked, not flat);
// cache positions from keys_written[b] on are NaN, and so is the output.
void fill_inputs(Backend& gpu, AttentionData& d, const std::vector<int>& keys_written, uint64_t seed) {
  gpu.fill_synthetic(d.q.get(), d.dtype, d.q_elems(), seed, 1, 0, 3.0f);
  gpu.fill_synthetic(d.k.get(), d.dtype, d.cache_elems(), seed, 2, 0, 1.7320508f);
  gpu.fill_synthetic(d.v.get(), d.dtype, d.cache_elems(), seed, 3, 0, 1.7320508f);
  for (int b = 0; b < d.shape.batch; ++b) {
    const size_t first = (size_t(b) * d.shape.max_context + size_t(keys_written[size_t(b)])) * d.cache_row();
    const size_t end = size_t(b + 1) * d.shape.max_context * d.cache_row();
    gpu.fill_bytes(d.k.as<uint16_t>() + first, kPoisonByte, (end - first) * 2);
    gpu.fill_bytes(d.v.as<uint16_t>() + first, kPoisonByte, (end - first) * 2);
  }
  gpu.fill_bytes(d.out.get(), kPoisonByte, d.q_elems() * 2);
  d.q_host = download_floats(gpu, d.q.get(), d.q_elems(), d.dtype);
  d.k_host = download_floats(gpu, d.k.get(), d.cache_elems(), d.dtype);
  d.v_host = download_floats(gpu, d.v.get(), d.cache_elems(), d.dtype);
}

AttentionData make_data(Backend& gpu, const AttentionShape& shape, DType dtype, int q_rows) {
  AttentionData d;
  d.shape = shape;
  d.dtype = dtype;
  d.q_rows = q_rows;
  d.q = DeviceBuffer(gpu, d.q_elems() * 2);
  d.out = DeviceBuffer(gpu, d.q_elems() * 2);
  d.k = DeviceBuffer(gpu, d.cache_elems() * 2);
  d.v = DeviceBuffer(gpu, d.cache_elems() * 2);
  return d;
}

// fp64 reference: out = softmax(scale * q . K^T) V over cache positions [0, n_keys) of
// sequence b and the kv head of query head h.
std::vector<double> reference_row(const AttentionData& d, int b, int row, int h, int n_keys) {
  const AttentionShape& s = d.shape;
  const int hd = s.head_dim, kv_head = h / (s.num_heads / s.num_kv_heads);
  const float* q = d.q_host.data() + ((size_t(b) * d.q_rows + size_t(row)) * s.num_heads + size_t(h)) * hd;
  std::vector<double> qd(static_cast<size_t>(hd)), w(static_cast<size_t>(n_keys)), out(static_cast<size_t>(hd), 0.0);
  for (int i = 0; i < hd; ++i) qd[size_t(i)] = q[i];
  double max_w = -INFINITY;
  for (int j = 0; j < n_keys; ++j) {
    const float* k = d.k_host.data() + (size_t(b) * s.max_context + size_t(j)) * d.cache_row() + size_t(kv_head) * hd;
    double dot = 0;
    for (int i = 0; i < hd; ++i) dot += qd[size_t(i)] * k[i];
    w[size_t(j)] = dot * s.softmax_scale;
    max_w = std::max(max_w, w[size_t(j)]);
  }
  double sum = 0;
  for (int j = 0; j < n_keys; ++j) {
    const double p = std::exp(w[size_t(j)] - max_w);
    sum += p;
    const float* v = d.v_host.data() + (size_t(b) * s.max_context + size_t(j)) * d.cache_row() + size_t(kv_head) * hd;
    for (int i = 0; i < hd; ++i) out[size_t(i)] += p * v[i];
  }
  for (double& x : out) x /= sum;
  return out;
}

// Relative error over everything compared, the worst single row, and NaNs (poison left unwritten
// or produced).
struct Comparison {
  double diff2 = 0, ref2 = 0, worst_row = 0;
  int64_t nans = 0, rows = 0;

  void add_row(const uint16_t* got, DType dtype, const std::vector<double>& want) {
    double row_diff2 = 0, row_ref2 = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const float g = half_bits_to_float(got[i], dtype);
      if (std::isnan(g)) ++nans;
      row_diff2 += (double(g) - want[i]) * (double(g) - want[i]);
      row_ref2 += want[i] * want[i];
    }
    diff2 += row_diff2;
    ref2 += row_ref2;
    worst_row = std::max(worst_row, std::sqrt(row_diff2 / std::max(row_ref2, 1e-30)));
    ++rows;
  }
  double rel() const { return std::sqrt(diff2 / std::max(ref2, 1e-30)); }
  void expect_passed(const std::string& what) const {
    EXPECT_GT(rows, 0) << what;
    EXPECT_EQ(nans, 0) << what << ": NaN in the output (unwritten or computed)";
    EXPECT_LT(rel(), kMaxRelError) << what;
    EXPECT_LT(worst_row, kMaxRowError) << what;
  }
};

// Compares output rows (b, row, h) for the given rows; n_keys(b, row) keys each.
Comparison compare_rows(const AttentionData& d, const std::vector<uint16_t>& out,
                        const std::vector<std::array<int, 3>>& rows, const std::function<int(int, int)>& n_keys) {
  Comparison c;
  for (const auto& [b, row, h] : rows) {
    const size_t at = ((size_t(b) * d.q_rows + size_t(row)) * d.shape.num_heads + size_t(h)) * d.shape.head_dim;
    c.add_row(out.data() + at, d.dtype, reference_row(d, b, row, h, n_keys(b, row)));
  }
  return c;
}

std::vector<std::array<int, 3>> all_rows(const AttentionData& d) {
  std::vector<std::array<int, 3>> rows;
  for (int b = 0; b < d.shape.batch; ++b)
    for (int r = 0; r < d.q_rows; ++r)
      for (int h = 0; h < d.shape.num_heads; ++h) rows.push_back({b, r, h});
  return rows;
}

std::vector<uint16_t> download_out(Backend& gpu, const AttentionData& d) {
  gpu.synchronize();
  std::vector<uint16_t> out(d.q_elems());
  gpu.copy_to_host(out.data(), d.out.get(), out.size() * 2);
  return out;
}

struct PrefillCase {
  DType dtype;
  int head_dim, batch, kv_heads, group, q_len, start_pos;
};

std::string describe(const PrefillCase& c) {
  return std::string("prefill ") + dtype_name(c.dtype) + " hd=" + std::to_string(c.head_dim) +
         " batch=" + std::to_string(c.batch) + " heads=" + std::to_string(c.kv_heads * c.group) + "/" +
         std::to_string(c.kv_heads) + " q_len=" + std::to_string(c.q_len) + " start_pos=" + std::to_string(c.start_pos);
}

// Every head_dim, GQA ratio 1/4/8, q_len 1/7/129/1000 (and tile-aligned 256), start_pos 0 and
// > 0 (also past a tile boundary), batch 1 and 3, bf16 and fp16.
const PrefillCase kPrefillCases[] = {
    {DType::bf16, 128, 1, 2, 1, 1000, 0},  {DType::bf16, 128, 3, 2, 4, 129, 0},
    {DType::bf16, 128, 3, 1, 8, 7, 300},   {DType::bf16, 128, 1, 2, 8, 1, 4000},
    {DType::bf16, 128, 3, 2, 4, 1000, 77}, {DType::bf16, 128, 1, 2, 4, 130, 126},
    {DType::bf16, 64, 1, 2, 8, 1000, 0},   {DType::bf16, 64, 3, 2, 1, 129, 1000},
    {DType::bf16, 64, 3, 4, 4, 7, 0},      {DType::bf16, 64, 1, 2, 4, 1, 0},
    {DType::fp16, 128, 3, 2, 4, 129, 200}, {DType::fp16, 64, 1, 2, 8, 1000, 129},
    {DType::fp16, 128, 1, 1, 1, 256, 0},   {DType::fp16, 64, 3, 1, 4, 7, 5},
};

struct DecodeCase {
  DType dtype;
  int head_dim, kv_heads, group, max_context;
  std::vector<int> contexts;  // one per sequence
};

std::string describe(const DecodeCase& c) {
  std::string ctx;
  for (int n : c.contexts) {
    if (!ctx.empty()) ctx += ',';
    ctx += std::to_string(n);
  }
  return std::string("decode ") + dtype_name(c.dtype) + " hd=" + std::to_string(c.head_dim) +
         " heads=" + std::to_string(c.kv_heads * c.group) + "/" + std::to_string(c.kv_heads) +
         " max_context=" + std::to_string(c.max_context) + " contexts=" + ctx;
}

// Contexts 1, 17 and 4097 side by side in one batch, GQA 1/4/8 and 20 (two head groups of
// 16 and 4), both head dims, and one context far below max_context (most chunks empty).
const DecodeCase kDecodeCases[] = {
    {DType::bf16, 128, 2, 4, 4100, {1, 17, 4097}},    {DType::fp16, 64, 2, 8, 4097, {4097, 1, 17}},
    {DType::bf16, 64, 4, 1, 40, {17}},                {DType::fp16, 128, 1, 20, 4100, {17, 4097, 1000}},
    {DType::bf16, 128, 2, 8, 8192, {4097, 2048}},     {DType::bf16, 64, 8, 4, 32768, {300, 1, 5000}},
    {DType::fp16, 128, 2, 1, 4097, {4097, 4096, 64}},
};

// Decode over `contexts`: uploads them, runs (eagerly or by replaying `graph`), compares every row.
Comparison run_decode_and_compare(Backend& gpu, AttentionData& d, DeviceBuffer& lens, const std::vector<int>& contexts,
                                  const std::function<void()>& run) {
  gpu.copy_to_device(lens.get(), contexts.data(), contexts.size() * 4);
  gpu.fill_bytes(d.out.get(), kPoisonByte, d.q_elems() * 2);
  run();
  const std::vector<uint16_t> out = download_out(gpu, d);
  return compare_rows(d, out, all_rows(d), [&](int b, int) { return contexts[size_t(b)]; });
}

// Median of `iters` event-timed runs after `warmup` runs; run(i) is the i-th call.
double median_ms(Backend& gpu, int warmup, int iters, const std::function<void(int)>& run) {
  for (int i = 0; i < warmup; ++i) run(i);
  auto timer = gpu.make_timer();
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    timer->start();
    run(warmup + i);
    timer->stop();
    ms.push_back(timer->elapsed_ms());
  }
  return summarize(ms).p50;
}

}  // namespace

TEST(GpuAttention, PrefillMatchesReference) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  uint64_t seed = 100;
  for (const PrefillCase& c : kPrefillCases) {
    const std::string what = describe(c);
    SCOPED_TRACE(what);
    const int keys = c.start_pos + c.q_len;
    AttentionData d = make_data(*gpu, make_shape(c.batch, c.kv_heads, c.group, c.head_dim, keys + 9), c.dtype, c.q_len);
    fill_inputs(*gpu, d, std::vector<int>(size_t(c.batch), keys), ++seed);
    attention_prefill(d.q.get(), d.k.get(), d.v.get(), d.out.get(), d.shape, c.q_len, c.start_pos, c.dtype,
                      cuda_stream(*gpu));
    const std::vector<uint16_t> out = download_out(*gpu, d);
    compare_rows(d, out, all_rows(d), [&](int, int row) { return c.start_pos + row + 1; }).expect_passed(what);
  }
}

TEST(GpuAttention, DecodeMatchesReference) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  uint64_t seed = 200;
  for (const DecodeCase& c : kDecodeCases) {
    const std::string what = describe(c);
    SCOPED_TRACE(what);
    const int batch = int(c.contexts.size());
    AttentionData d = make_data(*gpu, make_shape(batch, c.kv_heads, c.group, c.head_dim, c.max_context), c.dtype, 1);
    fill_inputs(*gpu, d, c.contexts, ++seed);
    DeviceBuffer lens(*gpu, size_t(batch) * 4);
    DeviceBuffer workspace(*gpu, attention_decode_workspace_bytes(d.shape));
    run_decode_and_compare(*gpu, d, lens, c.contexts, [&] {
      attention_decode(d.q.get(), d.k.get(), d.v.get(), d.out.get(), lens.as<int32_t>(), d.shape, c.dtype,
                       workspace.get(), cuda_stream(*gpu));
    }).expect_passed(what);
  }
}

// Recorded once, replayed as the contexts change on the device between replays: the graph must
// read them at replay time (a context longer than at record time included).
TEST(GpuAttention, DecodeGraphReplaysWithChangedContexts) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  const std::vector<int> before = {1, 17, 3000}, after = {4097, 2000, 33};
  AttentionData d = make_data(*gpu, make_shape(3, 2, 4, 128, 4200), DType::bf16, 1);
  fill_inputs(*gpu, d, {4200, 4200, 4200}, 300);
  DeviceBuffer lens(*gpu, 3 * 4);
  DeviceBuffer workspace(*gpu, attention_decode_workspace_bytes(d.shape));
  gpu->copy_to_device(lens.get(), before.data(), before.size() * 4);
  // Eager once first: one-time kernel set-up stays out of the recording.
  attention_decode(d.q.get(), d.k.get(), d.v.get(), d.out.get(), lens.as<int32_t>(), d.shape, d.dtype,
                   workspace.get(), cuda_stream(*gpu));
  std::unique_ptr<RecordedWork> graph = gpu->record([&] {
    attention_decode(d.q.get(), d.k.get(), d.v.get(), d.out.get(), lens.as<int32_t>(), d.shape, d.dtype,
                     workspace.get(), cuda_stream(*gpu));
  });
  ASSERT_TRUE(graph) << "the CUDA backend did not record a graph";
  for (const std::vector<int>* contexts : {&before, &after, &before}) {
    const std::string what = "graph replay contexts " + std::to_string((*contexts)[0]) + "," +
                             std::to_string((*contexts)[1]) + "," + std::to_string((*contexts)[2]);
    run_decode_and_compare(*gpu, d, lens, *contexts, [&] { graph->replay(); }).expect_passed(what);
  }
}

TEST(GpuAttention, RejectsUnsupportedShapes) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  DeviceBuffer buf(*gpu, 1 << 20);
  AttentionShape s = make_shape(1, 2, 4, 96, 64);
  EXPECT_THROW(attention_prefill(buf.get(), buf.get(), buf.get(), buf.get(), s, 8, 0, DType::bf16, cuda_stream(*gpu)),
               InputError);
  EXPECT_THROW(attention_decode_workspace_bytes(s), InputError);
  s = make_shape(1, 3, 1, 128, 64);
  s.num_heads = 4;  // not a multiple of 3 kv heads
  EXPECT_THROW(attention_decode_workspace_bytes(s), InputError);
  s = make_shape(1, 2, 4, 128, 64);
  EXPECT_THROW(attention_prefill(buf.get(), buf.get(), buf.get(), buf.get(), s, 60, 5, DType::bf16, cuda_stream(*gpu)),
               InputError);  // start_pos + q_len past max_context
  EXPECT_THROW(attention_prefill(buf.get(), buf.get(), buf.get(), buf.get(), s, 8, 0, DType::fp8, cuda_stream(*gpu)),
               InputError);
  EXPECT_THROW(attention_decode(buf.get(), buf.get(), buf.get(), buf.get(), buf.as<int32_t>(), s, DType::bf16, nullptr,
                                cuda_stream(*gpu)),
               InputError);
}

// The target shapes of issue 4, timed (CUDA events, 3 warm-up runs, median of 20; decode as
// CUDA-graph replays, rotating over caches larger than L2 together) and printed; each timed
// output is also checked on sample rows, so a fast wrong kernel still fails.
TEST(GpuAttention, TargetShapeTimings) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  const int64_t l2 = std::max<int64_t>(gpu->device_info().l2_bytes, 1);
  std::printf("%-58s %10s %10s %10s\n", "attention shape", "median ms", "TFLOP/s", "GB/s");

  struct PrefillTiming {
    int kv_heads, group, head_dim, q_len;
  };
  for (const PrefillTiming& t : {PrefillTiming{4, 16, 128, 4096}, PrefillTiming{8, 8, 64, 4096}}) {
    AttentionData d = make_data(*gpu, make_shape(1, t.kv_heads, t.group, t.head_dim, t.q_len), DType::bf16, t.q_len);
    fill_inputs(*gpu, d, {t.q_len}, 400);
    const double ms = median_ms(*gpu, 3, 20, [&](int) {
      attention_prefill(d.q.get(), d.k.get(), d.v.get(), d.out.get(), d.shape, t.q_len, 0, DType::bf16,
                        cuda_stream(*gpu));
    });
    const double flops = 2.0 * 2.0 * double(t.q_len) * t.q_len / 2.0 * d.shape.num_heads * t.head_dim;
    const double bytes = 2.0 * (2.0 * d.q_elems() + 2.0 * double(t.q_len) * d.cache_row());
    char name[96];
    std::snprintf(name, sizeof name, "prefill bf16 b=1 q_len=%d heads=%d/%d hd=%d causal", t.q_len,
                  d.shape.num_heads, t.kv_heads, t.head_dim);
    std::printf("%-58s %10.3f %10.1f %10.1f\n", name, ms, flops / ms * 1e-9, bytes / ms * 1e-6);
    std::vector<std::array<int, 3>> sample;
    for (int row : {0, 1, 127, 128, 1000, 2047, 3968, t.q_len - 1})
      for (int h : {0, 17, d.shape.num_heads - 1}) sample.push_back({0, row, h});
    compare_rows(d, download_out(*gpu, d), sample, [](int, int row) { return row + 1; }).expect_passed(name);
  }

  struct DecodeTiming {
    int batch, kv_heads, group, head_dim, context;
  };
  for (const DecodeTiming& t : {DecodeTiming{8, 4, 16, 128, 4096}, DecodeTiming{32, 4, 16, 128, 4096},
                                DecodeTiming{8, 4, 16, 128, 16384}, DecodeTiming{16, 4, 8, 128, 8192},
                                DecodeTiming{8, 8, 8, 64, 4096}}) {
    const AttentionShape shape = make_shape(t.batch, t.kv_heads, t.group, t.head_dim, t.context);
    const std::vector<int> contexts(size_t(t.batch), t.context);
    // Rotate over enough caches that none is still in L2 when it is read again.
    const double cache_bytes = 2.0 * 2.0 * double(t.batch) * t.context * t.kv_heads * t.head_dim;
    const int sets = int(std::clamp<double>(std::ceil(3.0 * double(l2) / cache_bytes), 1, 8));
    std::vector<AttentionData> data;
    for (int i = 0; i < sets; ++i) {
      data.push_back(make_data(*gpu, shape, DType::bf16, 1));
      fill_inputs(*gpu, data.back(), contexts, 500 + uint64_t(i));
    }
    DeviceBuffer lens(*gpu, size_t(t.batch) * 4);
    gpu->copy_to_device(lens.get(), contexts.data(), contexts.size() * 4);
    DeviceBuffer workspace(*gpu, attention_decode_workspace_bytes(shape));
    // Timed as the model runs decode: CUDA-graph replays (one recorded per cache set).
    std::vector<std::unique_ptr<RecordedWork>> graphs;
    for (AttentionData& d : data) {
      auto run = [&] {
        attention_decode(d.q.get(), d.k.get(), d.v.get(), d.out.get(), lens.as<int32_t>(), shape, DType::bf16,
                         workspace.get(), cuda_stream(*gpu));
      };
      run();
      graphs.push_back(gpu->record(run));
      ASSERT_TRUE(graphs.back()) << "the CUDA backend did not record a graph";
    }
    const double ms = median_ms(*gpu, 3, 20, [&](int i) { graphs[size_t(i % sets)]->replay(); });
    const double bytes = cache_bytes + 2.0 * 2.0 * data[0].q_elems();
    const double flops = 2.0 * 2.0 * double(t.batch) * t.context * shape.num_heads * t.head_dim;
    char name[96];
    std::snprintf(name, sizeof name, "decode bf16 batch=%d context=%d heads=%d/%d hd=%d", t.batch, t.context,
                  shape.num_heads, t.kv_heads, t.head_dim);
    std::printf("%-58s %10.3f %10.1f %10.1f\n", name, ms, flops / ms * 1e-9, bytes / ms * 1e-6);
    // The last run used set (3 + 20 - 1) % sets; check its output on every head of two sequences.
    const AttentionData& last = data[size_t((3 + 20 - 1) % sets)];
    std::vector<std::array<int, 3>> sample;
    for (int b : {0, t.batch - 1})
      for (int h = 0; h < shape.num_heads; ++h) sample.push_back({b, 0, h});
    compare_rows(last, download_out(*gpu, last), sample, [&](int, int) { return t.context; }).expect_passed(name);
  }
}
