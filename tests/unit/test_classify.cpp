// Failure classification of sweep children: from a timeout, a signal, moebench's own
// "moebench: KIND: ..." line, the CUDA / NCCL / allocator text, or exit code 2.
#include <gtest/gtest.h>
#include <signal.h>

#include "results/classify.hpp"

using namespace moebench;

namespace {

FailureClass exited(int code, const std::string& err) {
  ChildOutcome o;
  o.exit_code = code;
  o.stderr_text = err;
  return classify_failure(o);
}

}  // namespace

TEST(Classify, TimeoutWins) {
  ChildOutcome o;
  o.timed_out = true;
  o.timeout_s = 2;
  o.signal = SIGKILL;
  o.stderr_text = "[1/3] random T=32 naive\n";
  FailureClass c = classify_failure(o);
  EXPECT_EQ(c.kind, FailureKind::Timeout);
  EXPECT_EQ(c.message, "no result after 2 s: killed; last: [1/3] random T=32 naive");
}

TEST(Classify, SignalsAreCrashesUnlessTheTextSaysWhy) {
  ChildOutcome o;
  o.signal = SIGSEGV;
  FailureClass c = classify_failure(o);
  EXPECT_EQ(c.kind, FailureKind::Crash);
  EXPECT_NE(c.message.find("killed by signal 11"), std::string::npos) << c.message;
  o.signal = SIGABRT;
  o.stderr_text = "terminate called after throwing: CUDA error: an illegal memory access was encountered\n";
  EXPECT_EQ(classify_failure(o).kind, FailureKind::CudaError);
}

TEST(Classify, MoebenchsOwnKindLine) {
  FailureClass c = exited(1, "moebench layer: small on cpu\nmoebench: OOM: cudaMalloc of 80 GiB failed\n");
  EXPECT_EQ(c.kind, FailureKind::OOM);
  EXPECT_EQ(c.message, "moebench: OOM: cudaMalloc of 80 GiB failed");
  EXPECT_EQ(exited(1, "moebench: NcclError: unhandled system error\n").kind, FailureKind::NcclError);
  EXPECT_EQ(exited(1, "moebench: VerificationFailed: rel err 0.5\n").kind, FailureKind::VerificationFailed);
}

TEST(Classify, TextOfOtherLibraries) {
  EXPECT_EQ(exited(1, "RuntimeError: CUDA out of memory. Tried to allocate 2 GiB\n").kind, FailureKind::OOM);
  EXPECT_EQ(exited(1, "NCCL WARN Connect to 10.0.0.2 failed\n").kind, FailureKind::NcclError);
  EXPECT_EQ(exited(1, "CUBLAS_STATUS_EXECUTION_FAILED\n").kind, FailureKind::CudaError);
  EXPECT_EQ(exited(1, "RuntimeError: NCCL error in: comm.cpp:42, unhandled system error\n").kind,
            FailureKind::NcclError);
  EXPECT_EQ(exited(1, "ncclCommInitRank returned ncclInternalError\n").kind, FailureKind::NcclError);
}

TEST(Classify, NcclInfoLinesDoNotMakeACrashANcclError) {
  const std::string info = "host:123:123 [0] NCCL INFO Bootstrap : Using eth0:10.0.0.1<0>\n"
                           "host:123:123 [0] NCCL INFO NCCL version 2.21.5+cuda12.4\n";
  EXPECT_EQ(exited(1, info + "segfault in the router\n").kind, FailureKind::Crash);
  ChildOutcome o;
  o.signal = SIGSEGV;
  o.stderr_text = info;
  EXPECT_EQ(classify_failure(o).kind, FailureKind::Crash);
}

TEST(Classify, BadInputIsInvalidConfigButNotFittingIsOOM) {
  FailureClass c = exited(2, "moebench: error: num_experts (8) must be divisible by ep_size (3)\n");
  EXPECT_EQ(c.kind, FailureKind::InvalidConfig);
  EXPECT_EQ(c.message, "moebench: error: num_experts (8) must be divisible by ep_size (3)");
  EXPECT_EQ(exited(2, "moebench: error: deepseek-v3 does not fit: needed 1250.3 GiB vs available 79.1 GiB\n").kind,
            FailureKind::OOM);
}

TEST(Classify, OtherExitsAreCrashesWithALine) {
  FailureClass c = exited(3, "");
  EXPECT_EQ(c.kind, FailureKind::Crash);
  EXPECT_EQ(c.message, "exit code 3 with nothing on stderr");
  c = exited(1, "progress\r[2/2] done\r\nsomething odd\n");
  EXPECT_EQ(c.message, "exit code 1: something odd");
  c = exited(1, std::string(1000, 'x'));
  EXPECT_LE(c.message.size(), 300u);
}

TEST(Classify, ParsesEveryKindName) {
  for (FailureKind k : {FailureKind::OOM, FailureKind::Timeout, FailureKind::CudaError, FailureKind::NcclError,
                        FailureKind::InvalidConfig, FailureKind::VerificationFailed, FailureKind::Crash}) {
    FailureKind parsed = FailureKind::Crash;
    EXPECT_TRUE(parse_failure_kind(failure_kind_name(k), parsed));
    EXPECT_EQ(parsed, k);
  }
  FailureKind unused;
  EXPECT_FALSE(parse_failure_kind("ServerError", unused));
}
