// The value rules of every flag (input_rules.hpp).
#include "cli/input_rules.hpp"

#include <cmath>
#include <cstdlib>
#include <functional>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace moebench::cli {

namespace {

std::vector<CLI::App*> all_apps(CLI::App& app) {
  std::vector<CLI::App*> apps = {&app};
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    for (CLI::App* a : all_apps(*sub)) apps.push_back(a);
  return apps;
}

std::string not_empty(const std::string& value) {
  return value.empty() ? "empty value: give one, or leave the flag out for its default" : "";
}

std::string not_negative(const std::string& value) {
  const size_t first = value.find_first_not_of(" \t");
  if (first != std::string::npos && value[first] == '-')
    return fmt::format("{} is negative: give a whole number >= 0", value);
  return "";
}

std::string finite(const std::string& value) {
  char* end = nullptr;
  const double number = std::strtod(value.c_str(), &end);
  if (end != value.c_str() && *end == '\0' && !std::isfinite(number))
    return fmt::format("{} is not a finite number", value);
  return "";
}

// The rules that follow from an option's type (CLI11's type names: TEXT, INT, UINT, FLOAT).
std::vector<std::function<std::string(const std::string&)>> rules_of(const CLI::Option& option) {
  const std::string type = option.get_type_name();
  std::vector<std::function<std::string(const std::string&)>> rules = {not_empty};
  if (type.rfind("UINT", 0) == 0) rules.push_back(not_negative);
  if (type.rfind("FLOAT", 0) == 0) rules.push_back(finite);
  return rules;
}

// The parsed subcommand chain under `app`, `app` first.
std::vector<const CLI::App*> parsed_apps(const CLI::App& app) {
  std::vector<const CLI::App*> apps = {&app};
  for (const CLI::App* sub : app.get_subcommands())
    for (const CLI::App* a : parsed_apps(*sub)) apps.push_back(a);
  return apps;
}

const CLI::Option* option_named(const std::vector<const CLI::App*>& apps, const std::string& name) {
  for (const CLI::App* a : apps)
    for (const CLI::Option* o : a->get_options())
      if (!o->get_lnames().empty() && o->check_name(name)) return o;
  return nullptr;
}

void check_elements(const CLI::Option& option, const std::string& value) {
  const char delimiter = option.get_delimiter();
  if (value.find(delimiter) == std::string::npos) return;
  const std::string doubled(2, delimiter);
  if (value.front() == delimiter || value.back() == delimiter || value.find(doubled) != std::string::npos)
    throw InputError(fmt::format("{}: an empty element in '{}': separate the values by single '{}'",
                                 option.get_name(), value, delimiter));
}

}  // namespace

void add_input_rules(CLI::App& app) {
  for (CLI::App* a : all_apps(app))
    for (CLI::Option* option : a->get_options()) {
      if (option->get_expected_max() == 0 || option->get_type_size_max() == 0) continue;  // a flag: no value
      for (auto& rule : rules_of(*option)) option->check(CLI::Validator(rule, ""));
    }
}

CLI::Validator one_of(const std::vector<std::string>& names) {
  return CLI::Validator(
      [names](const std::string& value) -> std::string {
        for (const std::string& n : names)
          if (value == n) return "";
        std::string choices;
        for (size_t i = 0; i < names.size(); ++i)
          choices += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
        return fmt::format("unknown value '{}': use {}", value, choices);
      },
      "");
}

void check_list_elements(const CLI::App& app, const std::vector<std::string>& args) {
  const std::vector<const CLI::App*> apps = parsed_apps(app);
  const CLI::Option* current = nullptr;  // the delimited option whose values follow
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;
    if (arg.rfind("--", 0) == 0) {
      const size_t equals = arg.find('=');
      const CLI::Option* option = option_named(apps, arg.substr(0, equals));
      current = option && option->get_delimiter() != '\0' ? option : nullptr;
      if (current && equals != std::string::npos) check_elements(*current, arg.substr(equals + 1));
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-') {
      current = nullptr;
      continue;
    }
    if (current) check_elements(*current, arg);
  }
}

}  // namespace moebench::cli
