// The CUDA backend: synthetic fills bit-identical with the CPU's, copies, timers, OOM.
#include <cstring>

#include "core/errors.hpp"
#include "gpu_test_util.hpp"

using namespace moebench;

TEST(CudaBackend, FillSyntheticMatchesCpuBitForBit) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  auto cpu = make_backend(BackendKind::cpu);
  const size_t n = 3'000'017;
  for (DType dtype : {DType::bf16, DType::fp16}) {
    DeviceBuffer g(*gpu, n * 2), c(*cpu, n * 2);
    gpu->fill_synthetic(g.get(), dtype, n, 42, 3, 1000, 0.37f);
    cpu->fill_synthetic(c.get(), dtype, n, 42, 3, 1000, 0.37f);
    std::vector<uint16_t> back(n);
    gpu->copy_to_host(back.data(), g.get(), n * 2);
    EXPECT_EQ(std::memcmp(back.data(), c.get(), n * 2), 0) << dtype_name(dtype);
    size_t zeros = 0;
    for (uint16_t v : back) zeros += (v & 0x7fff) == 0;
    EXPECT_LT(zeros, n / 1000) << "synthetic data must not be zeros";
  }
}

TEST(CudaBackend, CopiesAndTimer) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  std::vector<uint8_t> src(1 << 20), dst(1 << 20, 0);
  for (size_t i = 0; i < src.size(); ++i) src[i] = uint8_t(i * 7 + 3);
  DeviceBuffer buf(*gpu, src.size());
  gpu->copy_to_device(buf.get(), src.data(), src.size());
  auto timer = gpu->make_timer();
  timer->start();
  gpu->fill_synthetic(buf.get(), DType::fp32, 0, 1, 1, 0, 1.0f);  // no-op keeps contents
  timer->stop();
  gpu->copy_to_host(dst.data(), buf.get(), dst.size());
  EXPECT_EQ(src, dst);
  EXPECT_GE(timer->elapsed_ms(), 0.0);
  DeviceInfo info = gpu->device_info();
  EXPECT_TRUE(info.is_gpu);
  EXPECT_GT(info.multiprocessors, 0);
  EXPECT_GT(info.total_memory_bytes, int64_t(1) << 30);
}

TEST(CudaBackend, AbsurdAllocationIsClassifiedOom) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  try {
    DeviceBuffer huge(*gpu, size_t(1) << 50);
    FAIL() << "a 1 PiB allocation succeeded";
  } catch (const RuntimeFailure& e) {
    EXPECT_EQ(e.kind(), FailureKind::OOM) << e.what();
  }
  // The backend still works afterwards.
  DeviceBuffer ok(*gpu, 1024);
  gpu->fill_bytes(ok.get(), 0, 1024);
  gpu->synchronize();
}
