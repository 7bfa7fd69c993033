#include "core/dtype.hpp"

#include "core/errors.hpp"

namespace moebench {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::bf16: return "bf16";
    case DType::fp16: return "fp16";
    case DType::fp8: return "fp8";
    case DType::fp32: return "fp32";
  }
  return "?";
}

DType parse_dtype(const std::string& text) {
  if (text == "bf16" || text == "bfloat16") return DType::bf16;
  if (text == "fp16" || text == "float16" || text == "half") return DType::fp16;
  if (text == "fp8" || text == "float8_e4m3fn" || text == "fp8_e4m3") return DType::fp8;
  if (text == "fp32" || text == "float32" || text == "float") return DType::fp32;
  throw InputError("unknown dtype '" + text + "': use one of bf16, fp16, fp8, fp32");
}

int dtype_bytes(DType t) {
  switch (t) {
    case DType::bf16: return 2;
    case DType::fp16: return 2;
    case DType::fp8: return 1;
    case DType::fp32: return 4;
  }
  return 2;
}

}  // namespace moebench
