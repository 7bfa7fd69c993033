#pragma once
// Base64 (RFC 4648, with padding): how the HTML report embeds its PNGs as data URIs, so that
// the one file is the whole report.
#include <string>
#include <string_view>

namespace moebench {

std::string base64_encode(std::string_view bytes);

}  // namespace moebench
