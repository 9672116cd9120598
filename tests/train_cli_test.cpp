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
  expect_one_line(run(kGpt3 + "--precision fp4"),
                  "xpusim: command line: --precision: expected bf16, fp8-delayed, fp8-current, "
                  "fp8-blockwise, mxfp8 or nvfp4, got 'fp4'");
  expect_one_line(
      run("train --model gpt3-175b --system dgx-a100-superpod --global-batch 0 --seq-len 2048"),
      "xpusim: command line: --global-batch: expected at least 1, got 0");
  expect_one_line(run("train --model gpt3-175b --system dgx-a100-superpod --nodes 0 --global-batch "
                      "8 --seq-len 2048"),
                  "xpusim: ");
  expect_one_line(run("train --model gpt3-175b --system dgx-a100 --global-batch 8 --seq-len 2048"),
                  "xpusim: ");
}

TEST(TrainCli, FsdpAndMoeFlagsAreCheckedOnTheCommandLine) {
  expect_one_line(run(kGpt3 + "--tp 8 --pp 16 --fsdp-prefetch 2"),
                  "xpusim: command line: --fsdp-prefetch: an FSDP schedule needs --zero 3, got "
                  "--zero 0");
  expect_one_line(run(kGpt3 + "--tp 8 --pp 16 --reduce-dtype fp16"),
                  "xpusim: command line: --reduce-dtype: expected fp32 or bf16, got 'fp16'");
  expect_one_line(run(kGpt3 + "--tp 8 --pp 16 --moe-load-imbalance 0.5"),
                  "xpusim: command line: --moe-load-imbalance: expected at least 1, got 0.5");
  const CliResult ok = run(kGpt3 + "--tp 8 --pp 16 --zero 3 --fsdp-prefetch 0 --per-step-reduce");
  EXPECT_EQ(ok.status, 0) << ok.err;
}

TEST(TrainCli, HwAndNodesBuildADefaultSystemAndSaySo) {
  const std::string args =
      "train --model llama-3.1-8b --hw h200-sxm --nodes 2 --tp 8 --global-batch 16 --seq-len 4096";
  const CliResult text = run(args);
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("on default-h200-sxm (16 x h200-sxm)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("note: default system (no system file)"), std::string::npos);
  EXPECT_NE(text.out.find("note: assumed between domains: a non-blocking rail-optimized fat tree"),
            std::string::npos);
  const CliResult json = run(args + " --format json");
  ASSERT_EQ(json.status, 0) << json.err;
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["devices"], 16);
  EXPECT_EQ(j["system_notes"].size(), 2u);
  expect_one_line(run("train --model llama-3.1-8b --hw h200-sxm --global-batch 16 --seq-len 4096"),
                  "xpusim: command line: --nodes: --hw needs --nodes (at least 1)");
  expect_one_line(run("train --model llama-3.1-8b --hw h200-sxm --system dgx-h100-superpod "
                      "--nodes 1 --global-batch 16 --seq-len 4096"),
                  "xpusim: command line: --system: give either --system or --hw (with --nodes)");
}

TEST(TrainCli, PartialDomainsAndGrowthAreNotes) {
  const std::string base =
      "train --model llama-3.1-8b --system gb200-nvl72 --tp 8 --global-batch 256 --seq-len 4096 ";
  const CliResult derived = run(base + "--nodes 64 --format json");
  ASSERT_EQ(derived.status, 0) << derived.err;
  const auto j = nlohmann::json::parse(derived.out);
  EXPECT_EQ(j["devices"], 256);
  ASSERT_EQ(j["system_notes"].size(), 1u);
  EXPECT_EQ(j["system_notes"][0],
            "256 devices do not fill whole scale-up domains of 72: they spread over 4 domains, 64 "
            "devices used in each");
  const CliResult stated = run(base + "--devices-per-domain 64 --nodes 64 --format json");
  ASSERT_EQ(stated.status, 0) << stated.err;
  EXPECT_EQ(nlohmann::json::parse(stated.out)["devices"], 256);
  const CliResult grown = run(
      "train --model llama-3.1-8b --system gb200-nvl72 --tp 8 --global-batch 144 --seq-len 4096 "
      "--nodes 288");
  ASSERT_EQ(grown.status, 0) << grown.err;
  EXPECT_NE(grown.out.find("note: gb200-nvl72 has 144 nodes; 288 assume its scale-out network "
                           "grows with it"),
            std::string::npos)
      << grown.out;
}

TEST(TrainCli, UnevenStagesAndOffloadFlags) {
  const std::string base =
      "train --model llama-3.1-8b --system dgx-h100-superpod --nodes 1 --pp 4 --global-batch 64 "
      "--seq-len 4096 --format json ";
  const CliResult counts = run(base + "--last-stage-layers 5");
  ASSERT_EQ(counts.status, 0) << counts.err;
  const auto c = nlohmann::json::parse(counts.out);
  EXPECT_EQ(c["plan"]["last_stage_layers"], 5);
  EXPECT_TRUE(c["plan"]["first_stage_layers"].is_null());
  const CliResult layout = run(base + "--pipeline-layout 'Et*9|t*9|t*9|t*5L'");
  ASSERT_EQ(layout.status, 0) << layout.err;
  const auto l = nlohmann::json::parse(layout.out);
  EXPECT_EQ(l["plan"]["pipeline_layout"], "Et*9|t*9|t*9|t*5L");
  EXPECT_DOUBLE_EQ(l["step_time_s"].get<double>(), c["step_time_s"].get<double>());
  const CliResult off = run(base + "--offload-optimizer --offload-activations");
  ASSERT_EQ(off.status, 0) << off.err;
  const auto o = nlohmann::json::parse(off.out);
  EXPECT_GT(o["breakdown"]["offload_s"].get<double>(), 0.0);
  EXPECT_GT(o["host_memory_per_device_bytes"].get<double>(), 0.0);
  EXPECT_EQ(o["memory_breakdown_bytes"]["optimizer_states"], 0.0);
  expect_one_line(run(base + "--pipeline-layout 'Et*9|x'"),
                  "xpusim: command line: --pipeline-layout: pipeline layout 'Et*9|x': at character "
                  "6: unexpected 'x'");
  expect_one_line(run(base + "--pipeline-layout 'Et*9|t*9|t*9|t*5L' --last-stage-layers 5"),
                  "xpusim: command line: --pipeline-layout: replaces --first-stage-layers and "
                  "--last-stage-layers; give one");
}

}  // namespace
