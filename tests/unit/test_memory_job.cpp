// `moebench memory` as a job, run in the test process without the binary: the default model and
// dtype, the JSON of a layout that fits (exit 0), the exit code 1 with the verdict on stderr when
// it does not fit, and bad input refused before anything is printed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/errors.hpp"
#include "report/memory_job.hpp"

namespace moebench {
namespace {

struct Printed {
  int exit_code;
  std::string out, err;
};

Printed run(const MemoryJob& job) {
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code = run_memory_job(job);
  std::string out = ::testing::internal::GetCapturedStdout();
  return {code, out, ::testing::internal::GetCapturedStderr()};
}

// The tiny config of test_memory_model.cpp.
MemoryJob tiny_job() {
  MemoryJob job;
  job.model.manual = true;
  job.model.num_experts = 4;
  job.model.top_k = 2;
  job.model.hidden_size = 256;
  job.model.intermediate_size = 128;
  job.model.num_hidden_layers = 2;
  job.model.num_attention_heads = 4;
  job.model.num_key_value_heads = 2;
  job.model.vocab_size = 1000;
  job.model.max_position_embeddings = 64;
  job.batch_size = 2;
  job.input_len = 8;
  job.output_len = 8;
  job.gpu_memory_gib = 1;
  job.output_format = "json";
  return job;
}

TEST(MemoryJob, FitsExitsZeroWithJson) {
  const Printed p = run(tiny_job());
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_EQ(p.err, "");
  const nlohmann::json doc = nlohmann::json::parse(p.out);
  EXPECT_EQ(doc["fits"], true);
  EXPECT_EQ(doc["weight_bytes"], 3389952);
  EXPECT_EQ(doc["available_bytes"], int64_t(1) << 30);
  EXPECT_EQ(doc["kv_cache_dtype"], "bf16");  // auto: the activation dtype
}

TEST(MemoryJob, DoesNotFitExitsOneWithTheVerdictOnStderr) {
  MemoryJob job;
  job.model.model = "deepseek-v3";
  job.dtype = "bf16";
  job.gpu_memory_gib = 80;
  job.output_format = "json";
  const Printed p = run(job);
  EXPECT_EQ(p.exit_code, 1);
  const nlohmann::json doc = nlohmann::json::parse(p.out);
  EXPECT_EQ(doc["fits"], false);
  EXPECT_EQ(doc["model"], "deepseek-v3");
  EXPECT_EQ(p.err, "moebench memory: " + doc["verdict"].get<std::string>() + "\n");
  EXPECT_NE(p.err.find("does not fit: needed "), std::string::npos) << p.err;
}

TEST(MemoryJob, DefaultsAreThePublishedModelAndDtype) {
  MemoryJob job;
  job.gpu_memory_gib = 80;
  job.output_format = "json";
  const Printed p = run(job);
  const nlohmann::json doc = nlohmann::json::parse(p.out);
  EXPECT_EQ(doc["model"], kMemoryDefaultModel);
  EXPECT_EQ(doc["mode"], "inference");
  EXPECT_EQ(doc["dtype"], "bf16");
  EXPECT_EQ(doc["batch_size"], 1);
}

TEST(MemoryJob, BadInputIsRefusedBeforeAnyOutput) {
  MemoryJob job = tiny_job();
  job.output_format = "xml";
  ::testing::internal::CaptureStdout();
  EXPECT_THROW(run_memory_job(job), InputError);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  job = tiny_job();
  job.gpu_memory_gib = 0;
  ::testing::internal::CaptureStdout();
  EXPECT_THROW(run_memory_job(job), InputError);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
}

}  // namespace
}  // namespace moebench
