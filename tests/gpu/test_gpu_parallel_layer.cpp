// The GPU's expert- and tensor-parallel layers (ep, tp, fused-ep): on one GPU (a world of one
// rank: NCCL exchanging with itself, fused-ep's device-API windows and barriers on one GPU)
// against the fp64 reference, ep and fused-ep at EP=1 against grouped on the same inputs (all
// run the experts on the grouped GEMM path; fused-ep also over several chunks), and, where two
// GPUs are visible,
// `moebench layer --tp-size 2` through the binary with every rank's check passing.
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "gpu_test_util.hpp"

using namespace moebench;
using moebench::testing::gpu_test_model;
using moebench::testing::run_and_verify;

namespace {

const ImplInfo& cuda_impl(const std::string& name) {
  for (const ImplInfo& info : all_impls())
    if (info.name == name && info.backend == BackendKind::cuda) return info;
  throw std::runtime_error("no CUDA implementation " + name);
}

std::vector<ModelConfig> models() {
  ModelConfig shared = gpu_test_model("shared-gated", 16, 4, 256, 128);
  shared.num_shared_experts = 1;
  shared.shared_intermediate_size = 256;
  shared.shared_expert_gate = true;
  return {gpu_test_model("mixtral-like", 8, 2, 256, 512), shared};
}

}  // namespace

TEST(GpuParallelLayer, EpAndTpOnOneGpuMatchTheReference) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  for (const char* name : {"ep", "tp", "fused-ep"})
    for (const ModelConfig& model : models())
      for (Scenario scenario : all_scenarios())
        for (int64_t tokens : {1, 7, 129}) {
          SCOPED_TRACE(fmt::format("{} {} {} T={}", name, model.name, scenario_name(scenario), tokens));
          const auto run = run_and_verify(*gpu, cuda_impl(name), model, DType::bf16, scenario, tokens, 11);
          EXPECT_TRUE(run.verify.passed) << "rel err " << run.verify.rel_error << ", unwritten "
                                         << run.verify.unwritten;
        }
}

TEST(GpuParallelLayer, EpAndFusedEpAtEpOneAgreeWithGrouped) {
  REQUIRE_GPU();
  auto gpu = make_backend(BackendKind::cuda);
  for (const char* name : {"ep", "fused-ep"})
  for (const ModelConfig& model : models())
    for (int64_t tokens : {5, 300, 2500}) {  // 2500: fused-ep's three chunks of at most 1024 tokens
      SCOPED_TRACE(fmt::format("{} {} T={}", name, model.name, tokens));
      const auto grouped = run_and_verify(*gpu, cuda_impl("grouped"), model, DType::bf16, Scenario::random, tokens, 3);
      const auto ep = run_and_verify(*gpu, cuda_impl(name), model, DType::bf16, Scenario::random, tokens, 3);
      ASSERT_EQ(grouped.out.size(), ep.out.size());
      double diff2 = 0, ref2 = 0;
      for (size_t i = 0; i < ep.out.size(); ++i) {
        const double a = half_bits_to_float(ep.out[i], DType::bf16);
        const double b = half_bits_to_float(grouped.out[i], DType::bf16);
        diff2 += (a - b) * (a - b);
        ref2 += b * b;
      }
      EXPECT_LT(std::sqrt(diff2 / ref2), 1e-2);
      EXPECT_TRUE(ep.verify.passed && grouped.verify.passed);
    }
}

TEST(GpuParallelLayer, TwoGpusRunEveryLayoutThroughTheBinary) {
  REQUIRE_GPU();
  if (cuda_device_count() < 2) GTEST_SKIP() << "fewer than 2 GPUs visible";
  for (const char* layout : {"--tp-size 2 --ep-size 2", "--tp-size 2 --ep-size 1"}) {
    SCOPED_TRACE(layout);
    const std::string command =
        fmt::format("{} layer --backend cuda --manual-config --num-experts 8 --num-experts-per-tok 2 --hidden-size 256 "
                    "--intermediate-size 512 --num-tokens 1,64,1000 --no-record --quiet {} > /dev/null 2>&1",
                    MOEBENCH_BINARY, layout);
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
  }
}
