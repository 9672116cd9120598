// `xpusim train` through the command line: the interface later tools rely on, the trace file,
// and one-line errors with exit status 2 for plans that cannot run.

#include <gtest/gtest.h>

#include <sys/wait.h>
#include "test_files.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

using xpusim::testing::CliResult;
using xpusim::testing::read_text;

CliResult run(const std::string& args) {
  return xpusim::testing::run_xpusim(args);
}

const std::string kGpt3 =
    "train --model gpt3-175b --system dgx-a100-superpod --nodes 128 --global-batch 1536 --seq-len "
    "2048 ";

TEST(TrainCli, JsonHasTheInterfaceFields) {
  const CliResult r = run(
      kGpt3 + "--tp 8 --pp 8 --vpp 2 --micro-batch 1 --recompute full --tokens 3e11 --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"step_time_s", "tokens_per_s", "model_tflops_per_device", "mfu", "hfu",
                          "memory_per_device_bytes", "fits", "breakdown", "budget"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["plan"]["dp"], 16);  // follows from the device count
  EXPECT_GT(j["budget"]["wall_time_s"].get<double>(), 0.0);
  EXPECT_NEAR(j["budget"]["wall_time_s"].get<double>(), 3e11 / j["tokens_per_s"].get<double>(),
              1e-6 * 3e11 / j["tokens_per_s"].get<double>());
}

TEST(TrainCli, SearchPrintsAnArrayBestFirstAndWritesTheTrace) {
  const fs::path trace =
      fs::temp_directory_path() / ("xpusim_trace_" + std::to_string(::getpid()) + ".json");
  const CliResult r = run(kGpt3 + "--search --top 3 --format json --trace " + trace.string());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto array = nlohmann::json::parse(r.out);
  ASSERT_EQ(array.size(), 3u);
  EXPECT_LE(array[0]["step_time_s"].get<double>(), array[1]["step_time_s"].get<double>());
  EXPECT_LE(array[1]["step_time_s"].get<double>(), array[2]["step_time_s"].get<double>());
  const auto t = nlohmann::json::parse(read_text(trace));
  EXPECT_TRUE(t.contains("traceEvents"));
  EXPECT_GT(t["traceEvents"].size(), 10u);
  fs::remove(trace);
}

void expect_one_line(const CliResult& r, const std::string& start) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind(start, 0), 0u) << r.err;
}

TEST(TrainCli, PlansThatCannotRunAreOneLineErrors) {
  expect_one_line(run(kGpt3 + "--tp 3"),
                  "xpusim: command line: --tp: tp x pp x cp = 3 does not divide the 1024 devices");
  expect_one_line(run(kGpt3 + "--tp 8 --pp 5"),
                  "xpusim: command line: --tp: tp x pp x cp = 40 does not divide");
  expect_one_line(run(kGpt3 + "--tp 8 --pp 16 --micro-batch 5"),
                  "xpusim: command line: --tp: the global batch 1536 does not split into dp 8 x "
                  "micro-batches of 5");
  expect_one_line(run(kGpt3 + "--tp 8 --pp 64"),
                  "xpusim: command line: --tp: pp x vpp = 64 does not divide the 96 layers");
  expect_one_line(run(kGpt3 + "--tp 16 --pp 8"),
                  "xpusim: command line: --tp: tp 16 exceeds the scale-up domain of 8 devices");
  expect_one_line(
      run(kGpt3 + "--recompute some"),
      "xpusim: command line: --recompute: expected none, selective or full, got 'some'");
  expect_one_line(run(kGpt3 + "--dtype fp4"),
                  "xpusim: command line: --dtype: expected bf16 or fp8, got 'fp4'");
  expect_one_line(
      run("train --model gpt3-175b --system dgx-a100-superpod --global-batch 0 --seq-len 2048"),
      "xpusim: command line: --global-batch: expected at least 1, got 0");
  expect_one_line(run("train --model gpt3-175b --system dgx-a100-superpod --nodes 0 --global-batch "
                      "8 --seq-len 2048"),
                  "xpusim: ");
  expect_one_line(run("train --model gpt3-175b --system dgx-a100 --global-batch 8 --seq-len 2048"),
                  "xpusim: ");
}

}  // namespace
