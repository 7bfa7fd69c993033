// The one line of an error, in the flags' typed spellings and escaped (error_line.hpp).
#include "cli/error_line.hpp"

#include <cctype>

#include <fmt/format.h>

namespace moebench::cli {

namespace {

std::vector<const CLI::App*> parsed_chain(const CLI::App& app) {
  std::vector<const CLI::App*> apps = {&app};
  for (const CLI::App* sub : app.get_subcommands())
    for (const CLI::App* a : parsed_chain(*sub)) apps.push_back(a);
  return apps;
}

bool flag_char(char c) { return std::isalnum((unsigned char)c) || c == '-' || c == '_'; }

// The length of the UTF-8 sequence at `s[i]`, or 0 when it is not valid UTF-8.
size_t utf8_length(const std::string& s, size_t i) {
  const unsigned char c = s[i];
  const size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

std::string escaped(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    if (c >= 0x80) {
      if (const size_t n = utf8_length(s, i)) {
        out.append(s, i, n);
        i += n;
      } else {
        out += fmt::format("\\x{:02X}", c);
        ++i;
      }
      continue;
    }
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7F) out += fmt::format("\\x{:02X}", c);
    else out += char(c);
    ++i;
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> typed_flag_names(const CLI::App& app, const std::vector<std::string>& typed,
                                                    const std::vector<std::string>& args) {
  std::map<std::string, std::string> names;
  const std::vector<const CLI::App*> apps = parsed_chain(app);
  for (size_t i = 1; i < args.size() && i < typed.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i].size() < 2 || args[i][0] != '-') continue;
    const std::string name = args[i].substr(0, args[i].find('='));
    const std::string as_typed = typed[i].substr(0, typed[i].find('='));
    for (const CLI::App* a : apps)
      for (const CLI::Option* o : a->get_options())
        if (!o->get_lnames().empty() && o->check_name(name) && o->get_name() != as_typed)
          names.emplace(o->get_name(), as_typed);
  }
  return names;
}

std::string error_line(const std::string& message, const std::map<std::string, std::string>& typed_names) {
  std::string out;
  for (size_t i = 0; i < message.size();) {
    bool replaced = false;
    if (message[i] == '-' && (i == 0 || !flag_char(message[i - 1])))
      for (const auto& [canonical, typed] : typed_names) {
        const size_t end = i + canonical.size();
        if (message.compare(i, canonical.size(), canonical) == 0 &&
            (end == message.size() || !flag_char(message[end]))) {
          out += typed;
          i = end;
          replaced = true;
          break;
        }
      }
    if (!replaced) out += message[i++];
  }
  return escaped(out);
}

}  // namespace moebench::cli
