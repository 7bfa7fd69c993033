#pragma once
// How this binary was built (generated at configure time; see cmake/build_info.cpp.in).
namespace moebench {

const char* build_version();
const char* build_git_revision();
const char* build_type();
const char* build_compiler();
bool build_with_cuda();
const char* build_cuda_compiler();
const char* build_cuda_flags();

}  // namespace moebench
