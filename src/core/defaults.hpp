#pragma once
// One default per idea, shared by every command that takes it (`model`, `memory`, `report`,
// `sweep`): a prompt and generation length, and the prefill chunk. These are the whole-model
// benchmark's lengths on a GPU, sized so that its default run finishes in about a minute; the
// memory verdict, the report's memory breakdown and a sweep's model block then describe the
// same run unless told otherwise. SGLang's default chunked prefill on large GPUs is 8192.
#include <cstdint>

namespace moebench {

inline constexpr int64_t kDefaultInputLen = 1024;
inline constexpr int64_t kDefaultOutputLen = 64;
inline constexpr int64_t kDefaultChunkedPrefillSize = 8192;

}  // namespace moebench
