// Throughput and cost formulas against hand-computed cases, token-count parsing, and
// `moebench throughput` end to end (JSON parsed back, bad input exits 2 with one line).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "analysis/throughput.hpp"
#include "cli_runner.hpp"
#include "core/errors.hpp"
#include "report/throughput_report.hpp"

using namespace moebench;
using moebench::testing::CliResult;
using moebench::testing::run_moebench;

TEST(Throughput, TokenCountsWithSuffixes) {
  EXPECT_DOUBLE_EQ(parse_token_count("100B", "--target-tokens"), 1e11);
  EXPECT_DOUBLE_EQ(parse_token_count("1.5T", "--target-tokens"), 1.5e12);
  EXPECT_DOUBLE_EQ(parse_token_count("2K", "--target-tokens"), 2000);
  EXPECT_DOUBLE_EQ(parse_token_count("0.5m", "--target-tokens"), 5e5);
  EXPECT_DOUBLE_EQ(parse_token_count("2305", "--tokens-per-sec"), 2305);
  EXPECT_DOUBLE_EQ(parse_token_count("86.4M", "--target-tokens"), 86.4e6);
  for (const char* bad : {"", "abc", "10X", "-5", "0", "0B", "1e400", "nan", "inf", "B", "1,000", "1.2.3", "5BB"}) {
    try {
      parse_token_count(bad, "--target-tokens");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("--target-tokens"), std::string::npos) << e.what();
    }
  }
}

TEST(Throughput, OneDayAtOneThousandTokensPerSecond) {
  // 1,000 tok/s on 4 GPUs processes 86.4 M tokens in exactly one day: 96 GPU-hours, $192 at $2.
  TrainingCost c = training_cost({1000, 4}, 86.4e6, 2.0);
  EXPECT_DOUBLE_EQ(c.tokens_per_day, 86.4e6);
  EXPECT_DOUBLE_EQ(c.days_to_target, 1.0);
  EXPECT_DOUBLE_EQ(c.gpu_hours, 96.0);
  EXPECT_DOUBLE_EQ(c.gpu_days, 4.0);
  EXPECT_DOUBLE_EQ(c.cost, 192.0);
  EXPECT_DOUBLE_EQ(c.tokens_per_sec_per_gpu, 250.0);
}

TEST(Throughput, SeedFourExampleDoneRight) {
  // Seed 004 claims 1,240 tok/s is 100 B tokens/day; it is 1,240 x 86,400 = 107.136 M.
  TrainingCost c = training_cost({1240, 8}, 1e12, 3.5);
  EXPECT_DOUBLE_EQ(c.tokens_per_day, 107136000.0);
  EXPECT_NEAR(c.days_to_target, 1e12 / 107136000.0, 1e-9);
  EXPECT_NEAR(c.gpu_hours, 8 * 1e12 / 1240 / 3600, 1e-6);
  EXPECT_NEAR(c.cost, 3.5 * 8 * 1e12 / 1240 / 3600, 1e-3);
}

TEST(Throughput, SavingsBetweenTwoResults) {
  TrainingCost base = training_cost({1000, 4}, 86.4e6, 2.0);
  TrainingCost fast = training_cost({2000, 4}, 86.4e6, 2.0);
  Savings s = savings(base, fast);
  EXPECT_DOUBLE_EQ(s.speedup, 2.0);
  EXPECT_DOUBLE_EQ(s.days_saved, 0.5);
  EXPECT_DOUBLE_EQ(s.gpu_hours_saved, 48.0);
  EXPECT_DOUBLE_EQ(s.cost_saved, 96.0);
  EXPECT_DOUBLE_EQ(s.cost_saved_fraction, 0.5);
  // Twice the GPUs for 1.5x the throughput: faster, but dearer.
  TrainingCost wide = training_cost({1500, 8}, 86.4e6, 2.0);
  Savings w = savings(base, wide);
  EXPECT_NEAR(w.days_saved, 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(w.cost_saved, 192.0 - 256.0, 1e-9);
}

TEST(Throughput, ScalingEfficiency) {
  std::vector<ScalingPoint> p = scaling_efficiency(parse_scaling("4:4400, 1:1200,2:2300"));
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].gpus, 1);
  EXPECT_DOUBLE_EQ(p[0].efficiency, 1.0);
  EXPECT_EQ(p[1].gpus, 2);
  EXPECT_DOUBLE_EQ(p[1].tokens_per_sec_per_gpu, 1150.0);
  EXPECT_NEAR(p[1].efficiency, 1150.0 / 1200.0, 1e-12);
  EXPECT_NEAR(p[1].speedup, 2300.0 / 1200.0, 1e-12);
  EXPECT_NEAR(p[2].efficiency, 1100.0 / 1200.0, 1e-12);
  // The base is the fewest GPUs, whatever it is.
  std::vector<ScalingPoint> q = scaling_efficiency(parse_scaling("8:8000,16:12000"));
  EXPECT_DOUBLE_EQ(q[1].efficiency, 0.75);
  EXPECT_THROW(scaling_efficiency(parse_scaling("1:1200")), InputError);
  EXPECT_THROW(scaling_efficiency(parse_scaling("2:1200,2:1300")), InputError);
  for (const char* bad : {"", "1", "1:", ":100", "0:100", "-1:100", "1.5:100", "a:100", "1:100,", "1:0,2:5"})
    EXPECT_THROW(scaling_efficiency(parse_scaling(bad)), InputError) << bad;
}

TEST(Throughput, BadNumbersInTheLibrary) {
  EXPECT_THROW(training_cost({0, 4}, 1e9, 2.0), InputError);
  EXPECT_THROW(training_cost({100, 0}, 1e9, 2.0), InputError);
  EXPECT_THROW(training_cost({100, 4}, -1, 2.0), InputError);
  EXPECT_THROW(training_cost({100, 4}, 1e9, 0.0), InputError);
}

TEST(Throughput, NumberFormatting) {
  EXPECT_EQ(grouped_number(1234567.8, 0), "1,234,568");
  EXPECT_EQ(grouped_number(1234567.8, 2), "1,234,567.80");
  EXPECT_EQ(grouped_number(-48, 0), "-48");
  EXPECT_EQ(grouped_number(999, 1), "999.0");
  EXPECT_EQ(token_count_text(107136000), "107.14 M");
  EXPECT_EQ(token_count_text(1e11), "100.00 B");
}

TEST(ThroughputCli, JsonParsedBack) {
  CliResult r = run_moebench("throughput --tokens-per-sec 1K --gpus 4 --target-tokens 86.4M --price-per-gpu-hour 2 "
                             "--compare-tokens-per-sec 2000 --scaling 1:1200,2:2300,4:4400 --output-format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_DOUBLE_EQ(doc["baseline"]["days_to_target"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(doc["baseline"]["gpu_hours"].get<double>(), 96.0);
  EXPECT_DOUBLE_EQ(doc["baseline"]["cost"].get<double>(), 192.0);
  EXPECT_DOUBLE_EQ(doc["compare"]["gpu_days"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(doc["savings"]["cost_saved"].get<double>(), 96.0);
  ASSERT_EQ(doc["scaling"].size(), 3u);
  EXPECT_NEAR(doc["scaling"][2]["efficiency"].get<double>(), 1100.0 / 1200.0, 1e-12);
}

TEST(ThroughputCli, TableAndDefaultExample) {
  CliResult r = run_moebench("throughput --tokens-per-sec 1000 --gpus 4 --target-tokens 86.4M --price-per-gpu-hour 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"86.40 M", "days to target", "$192", "GPU-hours"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  CliResult d = run_moebench("throughput");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.err.find("the SonicMoE training example"), std::string::npos) << d.err;
  EXPECT_NE(d.out.find("107.14 M"), std::string::npos) << d.out;  // 1,240 tok/s per day
  EXPECT_NE(d.out.find("savings"), std::string::npos) << d.out;
  CliResult s = run_moebench("throughput --scaling 1:1200,2:2300,4:4400");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.out.find("91.7%"), std::string::npos) << s.out;
  EXPECT_EQ(s.out.find("days to target"), std::string::npos) << s.out;
}

TEST(ThroughputCli, BadInputs) {
  auto expect_bad_input = [](const std::string& args, const std::string& part) {
    SCOPED_TRACE(args);
    CliResult r = run_moebench(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.stderr_lines(), 1) << r.err;
    EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  };
  expect_bad_input("throughput --tokens-per-sec 0", "--tokens-per-sec");
  expect_bad_input("throughput --tokens-per-sec -5", "--tokens-per-sec");
  expect_bad_input("throughput --tokens-per-sec abc", "--tokens-per-sec 'abc'");
  expect_bad_input("throughput --tokens-per-sec 100 --gpus 0", "--gpus");
  expect_bad_input("throughput --tokens-per-sec 100 --gpus -2", "--gpus");
  expect_bad_input("throughput --tokens-per-sec 100 --gpus two", "--gpus");
  expect_bad_input("throughput --tokens-per-sec 100 --target-tokens 10Q", "--target-tokens '10Q'");
  expect_bad_input("throughput --tokens-per-sec 100 --price-per-gpu-hour 0", "--price-per-gpu-hour");
  expect_bad_input("throughput --tokens-per-sec 100 --price-per-gpu-hour -1", "--price-per-gpu-hour");
  expect_bad_input("throughput --tokens-per-sec 100 --compare-tokens-per-sec 0", "--compare-tokens-per-sec");
  expect_bad_input("throughput --tokens-per-sec 100 --compare-tokens-per-sec 50 --compare-gpus 0", "--compare-gpus");
  expect_bad_input("throughput --compare-tokens-per-sec 50", "needs --tokens-per-sec");
  expect_bad_input("throughput --scaling 1:1200", "two or more");
  expect_bad_input("throughput --scaling 1:1200,1:1300", "twice");
  expect_bad_input("throughput --scaling 1-1200,2-2300", "--scaling");
  expect_bad_input("throughput --output-format xml", "xml");
}
