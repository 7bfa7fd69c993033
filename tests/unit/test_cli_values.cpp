// The rules every flag's value follows (cli/input_rules) and the one error line (cli/error_line):
// empty and malformed values are refused with the flag named as the user typed it, and a value
// quoted back never breaks the line or carries a raw byte.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "unit/cli_runner.hpp"

using namespace moebench::testing;
namespace fs = std::filesystem;

namespace {

const std::string kTinyLayer =
    "layer --manual-config --num-experts 4 --num-experts-per-tok 2 --hidden-size 64 --intermediate-size 64 "
    "--num-tokens 16 --scenarios random --benchmark-iters 2 --warmup-iters 0 --quiet --no-record";

}  // namespace

TEST(CliValues, EmptyValuesAreRefusedForEveryFlag) {
  expect_bad_input("layer --model '' --no-record", "--model: empty value");
  expect_bad_input("layer --model-path '' --no-record", "--model-path: empty value");
  expect_bad_input(kTinyLayer + " --output-file ''", "--output-file: empty value");
  expect_bad_input("throughput --tokens-per-sec ''", "--tokens-per-sec: empty value");
  expect_bad_input("model --batch-size '' --no-record", "--batch-size: empty value");
  expect_bad_input("results list --results-db ''", "--results-db: empty value");
}

TEST(CliValues, EmptyListElementsAreRefused) {
  const std::string base =
      "layer --manual-config --num-experts 4 --num-experts-per-tok 2 --hidden-size 64 --intermediate-size 64 "
      "--no-record";
  expect_bad_input(base + " --num-tokens 8,,16", "--num-tokens: an empty element in '8,,16'");
  expect_bad_input(base + " --num-tokens=8,16,", "--num-tokens: an empty element");
  expect_bad_input(base + " --scenarios ,random", "--scenarios: an empty element");
  expect_bad_input("sweep --dry-run --impl naive,,grouped", "--impl: an empty element");
}

TEST(CliValues, NegativeUnsignedAndNonFiniteNumbersAreRefused) {
  expect_bad_input(kTinyLayer + " --seed -1", "--seed: -1 is negative");
  expect_bad_input(kTinyLayer + " --imbalance-factor inf", "--imbalance-factor: inf is not a finite number");
  expect_bad_input("throughput --tokens-per-sec 1e-310", "--tokens-per-sec");
  expect_bad_input("throughput --tokens-per-sec 1000 --price-per-gpu-hour nan", "--price-per-gpu-hour: nan");
}

TEST(CliValues, EnumeratedValuesCheckMembership) {
  expect_bad_input("results list --kind bogus", "--kind: unknown value 'bogus': use layer, model or sweep");
}

TEST(CliValues, MessagesNameTheFlagAsTyped) {
  expect_bad_input("model --moe-impl bogus --backend cpu --model tiny --no-record", "--moe-impl");
  const CliResult r = run_moebench("model --moe-impl bogus --backend cpu --model tiny --no-record");
  EXPECT_EQ(r.err.find("--impl"), std::string::npos) << r.err;
  const CliResult tp = run_moebench("memory --model qwen3-30b-a3b -tp 0");
  EXPECT_EQ(tp.exit_code, 2) << tp.err;
  EXPECT_NE(tp.err.find("-tp"), std::string::npos) << tp.err;
  EXPECT_EQ(tp.err.find("--tp-size"), std::string::npos) << tp.err;
}

TEST(CliValues, AnErrorIsOneLineWhateverTheValueHolds) {
  expect_bad_input("layer --model \"$(printf 'qwen\\nfake')\" --no-record", "qwen\\nfake");
  const fs::path dir = fresh_temp_dir("binary-config");
  std::ofstream(dir / "config.json", std::ios::binary) << std::string("\xff\xfe\x01{bad\n", 6);
  const CliResult r = run_moebench("layer --no-record --model-path " + (dir / "config.json").string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.stderr_lines(), 1) << r.err;
  for (unsigned char c : r.err) EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7F)) << r.err;
}

TEST(CliValues, ADefaultThatCannotApplyAdaptsAndOnlyAGivenValueIsRefused) {
  const std::string args =
      "layer --manual-config --num-experts 4 --num-experts-per-tok 2 --hidden-size 64 --intermediate-size 64 "
      "--num-tokens 16 --scenarios imbalanced --benchmark-iters 1 --warmup-iters 0 --no-record";
  const CliResult r = run_moebench(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("imbalance factor 2, the most 4 experts top-2 allow"), std::string::npos) << r.err;
  expect_bad_input(args + " --imbalance-factor 3", "--imbalance-factor (3) must be between 1 and 2");
}
