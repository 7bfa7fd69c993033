#pragma once
// One CSV field, quoted as RFC 4180 asks when it holds a comma, a quote or a line break.
#include <string>

namespace moebench {

std::string csv_field(const std::string& s);

}  // namespace moebench
