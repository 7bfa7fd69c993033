#include "sweep/sweep_matrix.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/errors.hpp"
#include "core/dtype.hpp"
#include "core/model_config.hpp"
#include "core/presets.hpp"
#include "moe/moe_impl.hpp"
#include "results/config_key.hpp"
#include "bench/layer_records.hpp"
#include "bench/model_records.hpp"
#include "routing/scenarios.hpp"

namespace moebench {

namespace {

const std::set<std::string> kBlockKeys = {
    "command",   "models",     "model_paths", "manual",      "tp_size",    "ep_size",       "impl",
    "dtype",     "num_tokens", "scenarios",   "batch_size",  "input_len",  "output_len",    "warmup_iters",
    "benchmark_iters", "warmup_runs", "benchmark_runs", "num_layers", "timeout_s", "env", "args"};
const std::set<std::string> kManualKeys = {"num_experts", "num_experts_per_tok", "hidden_size", "intermediate_size"};
// Axes of one command only: in the other command's block they would be dropped unseen.
// (num_layers in a `layer` block is refused by validate_sweep_matrix, for flags too.)
const std::pair<const char*, const char*> kCommandAxes[] = {
    {"num_tokens", "layer"}, {"scenarios", "layer"},   {"batch_size", "model"},
    {"input_len", "model"},  {"output_len", "model"},
};

// Where a value sits, for messages: "sweep.yaml: runs[1].tp_size".
struct Place {
  std::string file;
  std::string path;
  Place operator/(const std::string& key) const { return {file, path.empty() ? key : path + "." + key}; }
  Place operator[](size_t i) const { return {file, fmt::format("{}[{}]", path, i)}; }
  InputError error(const std::string& what) const {
    return InputError(fmt::format("sweep file {}: {}: {}", file, path, what));
  }
};

template <typename T>
T scalar(const YAML::Node& node, const Place& at, const char* expected) {
  if (!node.IsScalar()) throw at.error(fmt::format("expected {}", expected));
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    throw at.error(fmt::format("expected {}, got '{}'", expected, node.Scalar()));
  }
}

template <typename T>
std::vector<T> list(const YAML::Node& node, const Place& at, const char* expected) {
  if (node.IsScalar()) return {scalar<T>(node, at, expected)};
  if (!node.IsSequence() || node.size() == 0) throw at.error(fmt::format("expected a non-empty list of {}", expected));
  std::vector<T> out;
  for (size_t i = 0; i < node.size(); ++i) out.push_back(scalar<T>(node[i], at[i], expected));
  return out;
}

void check_keys(const YAML::Node& map, const std::set<std::string>& known, const Place& at) {
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    if (!known.count(key)) {
      std::string names;
      for (const std::string& k : known) names += (names.empty() ? "" : ", ") + k;
      throw (at / key).error(fmt::format("unknown key: use {}", names));
    }
  }
}

// A key given twice in one map: YAML and JSON parsers keep one of the values without a word.
void reject_duplicate_keys(const YAML::Node& node, const std::string& file) {
  if (node.IsSequence())
    for (const YAML::Node& item : node) reject_duplicate_keys(item, file);
  if (!node.IsMap()) return;
  std::map<std::string, int> first_line;
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const int line = kv.first.Mark().line + 1;
    if (auto [it, fresh] = first_line.emplace(key, line); !fresh)
      throw InputError(fmt::format("sweep file {}: line {}: duplicate key \"{}\" (first at line {}): give each key "
                                   "once per block",
                                   file, line, key, it->second));
    reject_duplicate_keys(kv.second, file);
  }
}

ManualShape manual_shape(const YAML::Node& node, const Place& at) {
  if (!node.IsMap()) throw at.error("expected a map such as {num_experts: 8, num_experts_per_tok: 2, ...}");
  check_keys(node, kManualKeys, at);
  for (const std::string& key : kManualKeys)
    if (!node[key]) throw (at / key).error("missing");
  return {scalar<int>(node["num_experts"], at / "num_experts", "an integer"),
          scalar<int>(node["num_experts_per_tok"], at / "num_experts_per_tok", "an integer"),
          scalar<int64_t>(node["hidden_size"], at / "hidden_size", "an integer"),
          scalar<int64_t>(node["intermediate_size"], at / "intermediate_size", "an integer")};
}

SweepBlock parse_block(const YAML::Node& node, const Place& at) {
  if (!node.IsMap()) throw at.error("expected a map of axes");
  check_keys(node, kBlockKeys, at);
  SweepBlock b;
  auto has = [&](const char* key) { return bool(node[key]); };
  if (has("command")) b.command = scalar<std::string>(node["command"], at / "command", "layer or model");
  for (const auto& [axis, owner] : kCommandAxes)
    if (has(axis) && b.command != owner && (b.command == "layer" || b.command == "model"))
      throw (at / axis).error(fmt::format("not an axis of a `{}` block: {} belongs to `{}` runs; move it to a "
                                          "block with command: {}",
                                          b.command, axis, owner, owner));
  if (has("models")) b.models = list<std::string>(node["models"], at / "models", "preset names");
  if (has("model_paths")) b.model_paths = list<std::string>(node["model_paths"], at / "model_paths", "paths");
  if (has("manual")) {
    const YAML::Node m = node["manual"];
    if (m.IsMap()) b.manual.push_back(manual_shape(m, at / "manual"));
    else if (m.IsSequence())
      for (size_t i = 0; i < m.size(); ++i) b.manual.push_back(manual_shape(m[i], (at / "manual")[i]));
    else throw (at / "manual").error("expected a map or a list of maps");
  }
  if (has("tp_size")) b.tp_sizes = list<int>(node["tp_size"], at / "tp_size", "integers");
  if (has("ep_size")) b.ep_sizes = list<int>(node["ep_size"], at / "ep_size", "integers");
  if (has("impl")) b.impls = list<std::string>(node["impl"], at / "impl", "implementation names");
  if (has("dtype")) b.dtypes = list<std::string>(node["dtype"], at / "dtype", "dtype names");
  if (has("num_tokens")) b.num_tokens = list<int64_t>(node["num_tokens"], at / "num_tokens", "integers");
  if (has("scenarios")) b.scenarios = list<std::string>(node["scenarios"], at / "scenarios", "scenario names");
  if (has("batch_size")) b.batch_sizes = list<int64_t>(node["batch_size"], at / "batch_size", "integers");
  if (has("input_len")) b.input_lens = list<int64_t>(node["input_len"], at / "input_len", "integers");
  if (has("output_len")) b.output_lens = list<int64_t>(node["output_len"], at / "output_len", "integers");
  if (has("num_layers")) b.num_layers = list<int>(node["num_layers"], at / "num_layers", "integers");
  // One name per idea with the flags' aliases (cli/vocabulary.hpp): *_iters or *_runs, in
  // either command, but not both spellings in one block.
  auto repetitions = [&](const char* name, const char* alias) -> std::optional<int> {
    if (has(name) && has(alias))
      throw (at / alias).error(fmt::format("the same setting as {}: give one of them", name));
    const char* key = has(alias) ? alias : name;
    if (!has(key)) return std::nullopt;
    return scalar<int>(node[key], at / key, "an integer");
  };
  b.warmup = repetitions("warmup_iters", "warmup_runs");
  b.benchmark = repetitions("benchmark_iters", "benchmark_runs");
  if (has("timeout_s")) b.timeout_s = scalar<double>(node["timeout_s"], at / "timeout_s", "seconds");
  if (has("env")) {
    const YAML::Node env = node["env"];
    if (!env.IsMap()) throw (at / "env").error("expected a map NAME: value");
    for (const auto& kv : env)
      b.env.emplace_back(kv.first.Scalar(), scalar<std::string>(kv.second, at / "env" / kv.first.Scalar(), "text"));
  }
  if (has("args")) b.args = list<std::string>(node["args"], at / "args", "flags");
  return b;
}

void require_positive(const std::vector<int64_t>& values, const Place& at) {
  for (int64_t v : values)
    if (v <= 0) throw at.error(fmt::format("must be positive (got {})", v));
}

// Runs a parser of a flag's value, saying where in the sweep the bad value stands.
template <typename Parse>
void reword(const Place& at, Parse parse) {
  try {
    parse();
  } catch (const InputError& e) {
    throw at.error(e.what());
  }
}

std::vector<int64_t> widen(const std::vector<int>& v) { return {v.begin(), v.end()}; }

// Flags the sweep sets itself: a child given them would record elsewhere or not at all.
void check_child_args(const std::vector<std::string>& args, const Place& at) {
  for (const std::string& a : args)
    for (const char* reserved : {"--results-db", "--no-record", "--backend"})
      if (a == reserved || a.rfind(std::string(reserved) + "=", 0) == 0)
        throw at.error(fmt::format("{} is set by the sweep itself (use the sweep's own flag)", reserved));
}

}  // namespace

SweepMatrix load_sweep_matrix(const std::string& path) {
  if (!std::filesystem::is_regular_file(path))
    throw InputError(fmt::format("--matrix {}: no such file: give a JSON or YAML sweep file", path));
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);  // YAML 1.2 reads JSON too
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) throw InputError(fmt::format("sweep file {}: cannot read: {}", path, e.msg));
    throw InputError(fmt::format("sweep file {}: cannot parse: not valid YAML or JSON at line {}, column {}: {}", path,
                                 e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  reject_duplicate_keys(doc, path);
  const Place top{path, ""};
  if (!doc.IsMap()) throw InputError(fmt::format("sweep file {}: expected a map with \"runs\" or the axes", path));
  SweepMatrix m;
  m.source = path;
  if (doc["runs"]) {
    for (const auto& kv : doc) {
      const std::string key = kv.first.Scalar();
      if (key != "runs" && key != "timeout_s") throw (top / key).error("unknown key: use runs and timeout_s");
    }
    if (doc["timeout_s"]) m.timeout_s = scalar<double>(doc["timeout_s"], top / "timeout_s", "seconds");
    const YAML::Node runs = doc["runs"];
    if (!runs.IsSequence() || runs.size() == 0) throw (top / "runs").error("expected a non-empty list of blocks");
    for (size_t i = 0; i < runs.size(); ++i) m.blocks.push_back(parse_block(runs[i], (top / "runs")[i]));
  } else {
    m.blocks.push_back(parse_block(doc, top / "(top)"));
  }
  validate_sweep_matrix(m);
  return m;
}

void validate_sweep_matrix(const SweepMatrix& m) {
  const Place top{m.source, ""};
  if (!(m.timeout_s > 0)) throw (top / "timeout_s").error(fmt::format("must be positive (got {})", m.timeout_s));
  if (m.blocks.empty()) throw (top / "runs").error("no blocks");
  for (size_t i = 0; i < m.blocks.size(); ++i) {
    const SweepBlock& b = m.blocks[i];
    const Place at = (top / "runs")[i];
    if (b.command != "layer" && b.command != "model")
      throw (at / "command").error(fmt::format("unknown command '{}': use layer or model", b.command));
    if (b.models.empty() && b.model_paths.empty() && b.manual.empty())
      throw at.error("no model: give models, model_paths or manual");
    for (size_t j = 0; j < b.manual.size(); ++j) {
      const ManualShape& s = b.manual[j];
      require_positive({s.num_experts, s.top_k, s.hidden_size, s.intermediate_size}, (at / "manual")[j]);
    }
    require_positive(widen(b.tp_sizes), at / "tp_size");
    require_positive(widen(b.ep_sizes), at / "ep_size");
    require_positive(b.num_tokens, at / "num_tokens");
    require_positive(b.batch_sizes, at / "batch_size");
    require_positive(b.input_lens, at / "input_len");
    require_positive(widen(b.num_layers), at / "num_layers");
    if (b.command == "layer" && !b.num_layers.empty())
      throw (at / "num_layers").error("not an axis of `layer`: num_layers truncates a `model` run");
    for (int64_t v : b.output_lens)
      if (v < 0) throw (at / "output_len").error(fmt::format("must be >= 0 (got {})", v));
    if (b.warmup && *b.warmup < 0) throw (at / "warmup").error(fmt::format("must be >= 0 (got {})", *b.warmup));
    if (b.benchmark && *b.benchmark <= 0)
      throw (at / "benchmark").error(fmt::format("must be positive (got {})", *b.benchmark));
    if (b.timeout_s && !(*b.timeout_s > 0))
      throw (at / "timeout_s").error(fmt::format("must be positive (got {})", *b.timeout_s));
    if (b.command == "layer" && b.num_tokens.empty())
      throw (at / "num_tokens").error("missing: give the token counts of each layer run");
    for (const std::string& d : b.dtypes) {
      reword(at / "dtype", [&] { parse_dtype(d); });
      // fp8 runs in `layer` (CPU backend in this build); `model` runs bf16 or fp16.
      if (b.command == "model" && parse_dtype(d) == DType::fp8)
        throw (at / "dtype").error("fp8: `model` runs bf16 or fp16; fp8 runs in `layer` blocks");
    }
    for (const std::string& s : b.scenarios) reword(at / "scenarios", [&] { parse_scenario(s); });
    check_child_args(b.args, at / "args");
  }
}

namespace {

struct NamedModel {
  std::string name;
  int num_layers = 0;  // num_hidden_layers (0: a layer-only shape)
  std::vector<std::string> args;
};

std::vector<NamedModel> block_models(const SweepBlock& b) {
  std::vector<NamedModel> models;
  for (const std::string& m : b.models) {
    const ModelConfig config = load_preset(m);
    models.push_back({config.name, config.num_layers, {"--model", m}});
  }
  for (const std::string& p : b.model_paths) {
    const ModelConfig config = load_hf_config(p);
    models.push_back({config.name, config.num_layers, {"--model-path", p}});
  }
  for (const ManualShape& s : b.manual)
    models.push_back({manual_model_name(s.num_experts, s.top_k, s.hidden_size, s.intermediate_size),
                      0,
                      {"--manual-config", "--num-experts", std::to_string(s.num_experts), "--num-experts-per-tok",
                       std::to_string(s.top_k), "--hidden-size", std::to_string(s.hidden_size),
                       "--intermediate-size", std::to_string(s.intermediate_size)}});
  return models;
}

// The flags after the command's own: iterations, extra args, where to record.
void finish_args(SweepPoint& p, const SweepBlock& b, const std::string& results_db) {
  if (b.warmup) p.args.insert(p.args.end(), {"--warmup-iters", std::to_string(*b.warmup)});
  if (b.benchmark) p.args.insert(p.args.end(), {"--benchmark-iters", std::to_string(*b.benchmark)});
  p.args.insert(p.args.end(), b.args.begin(), b.args.end());
  p.args.insert(p.args.end(), {"--results-db", results_db});
}

}  // namespace

std::string reproducible_command(const SweepPoint& p) {
  // Single-quoted unless plainly safe, so that the line pastes into a POSIX shell as is.
  auto quoted = [](const std::string& word) {
    const bool plain = !word.empty() && word.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                               "0123456789_-+=.,/:@%") == std::string::npos;
    if (plain) return word;
    std::string out = "'";
    for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  std::vector<std::string> words;
  if (!p.env.empty()) words.push_back("env");
  for (const auto& [name, value] : p.env) words.push_back(quoted(name + "=" + value));
  words.push_back("moebench");
  for (const std::string& a : p.args) words.push_back(quoted(a));
  std::string line;
  for (const std::string& w : words) line.append(line.empty() ? "" : " ").append(w);
  return line;
}

std::vector<SweepPoint> expand_sweep_matrix(const SweepMatrix& m, BackendKind backend, const std::string& results_db) {
  std::vector<SweepPoint> points;
  for (size_t i = 0; i < m.blocks.size(); ++i) {
    const SweepBlock& b = m.blocks[i];
    // The implementations of a cell of tp ranks. "all" is what `layer --tp-size tp --impl all`
    // runs: the one-device implementations on one rank, the parallel ones (ep, tp) on several. A
    // name is taken as given in every cell: where it cannot run (a one-device implementation on
    // several ranks) its child refuses it, and the cell is stored as InvalidConfig, as any other
    // combination of the axes that cannot run. `model` blocks keep their one-device "all".
    const bool all = std::find(b.impls.begin(), b.impls.end(), "all") != b.impls.end();
    auto impls_of = [&](int tp) {
      std::vector<std::string> impls;
      reword(Place{m.source, fmt::format("runs[{}].impl", i)}, [&] {
        const int ranks = all && b.command == "layer" ? tp : 1;
        for (const ImplInfo* info : select_impls(b.impls, backend, ranks)) impls.push_back(info->name);
      });
      return impls;
    };
    for (const NamedModel& model : block_models(b))
      for (int tp : b.tp_sizes)
        for (int ep : b.ep_sizes)
          for (const std::string& impl : impls_of(tp))
            for (const std::string& dtype : b.dtypes) {
              SweepPoint base;
              base.command = b.command;
              base.model = model.name;
              base.env = b.env;
              base.timeout_s = b.timeout_s.value_or(m.timeout_s);
              base.args = {b.command};
              base.args.insert(base.args.end(), model.args.begin(), model.args.end());
              base.args.insert(base.args.end(), {"--tp-size", std::to_string(tp), "--ep-size", std::to_string(ep),
                                                 "--impl", impl, "--dtype",
                                                 dtype, "--backend", backend_kind_name(backend)});
              if (b.command == "layer") {
                for (int64_t tokens : b.num_tokens)
                  for (const std::string& scenario : b.scenarios) {
                    SweepPoint p = base;
                    p.config = layer_config_key(tp, ep, impl, scenario, tokens, dtype);
                    p.params = layer_params(impl, scenario, tokens, dtype, tp, ep);
                    p.args.insert(p.args.end(),
                                  {"--num-tokens", std::to_string(tokens), "--scenarios", scenario, "--quiet"});
                    finish_args(p, b, results_db);
                    points.push_back(std::move(p));
                  }
              } else {
                for (int layers : b.num_layers.empty() ? std::vector<int>{0} : b.num_layers)
                  for (int64_t batch : b.batch_sizes)
                    for (int64_t in : b.input_lens)
                      for (int64_t out : b.output_lens) {
                        SweepPoint p = base;
                        // As the run keys itself: all of the model's layers are no truncation.
                        const int truncated = layers < model.num_layers ? layers : 0;
                        p.config = model_config_key(tp, ep, impl, batch, in, out, dtype, truncated);
                        p.params = model_params(batch, in, out, dtype, impl, tp, ep, truncated);
                        p.args.insert(p.args.end(), {"--batch-size", std::to_string(batch), "--input-len",
                                                     std::to_string(in), "--output-len", std::to_string(out)});
                        if (layers > 0) p.args.insert(p.args.end(), {"--num-layers", std::to_string(layers)});
                        finish_args(p, b, results_db);
                        points.push_back(std::move(p));
                      }
              }
            }
  }
  return points;
}

}  // namespace moebench
