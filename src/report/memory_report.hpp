#pragma once
// Writers of `moebench memory`: the aligned breakdown table with the verdict beneath it, and
// the same as one JSON document. Both take a finished assessment; neither computes.
#include <string>

#include "analysis/memory_fit.hpp"

namespace moebench {

std::string format_memory_table(const MemoryAssessment& assessment);
std::string memory_json(const MemoryAssessment& assessment);

// "fits: needed 29.7 GiB vs available 80.0 GiB (<source>)" or "does not fit: ...".
std::string memory_verdict_line(const MemoryAssessment& assessment);

}  // namespace moebench
