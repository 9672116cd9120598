// Holds the single-node inference model against published measurements
// (data/validation/inference_public.json) under the file's own tolerance.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "test_support.hpp"
#include "xpusim/cost/operators.hpp"
#include "xpusim/report/report.hpp"
#include "xpusim/validate/validation.hpp"

namespace xpusim {
namespace {

TEST(Validation, TrainingRecordsWithinTheirTolerance) {
  const ValidationReport report = validate_training(testing::data_dir());
  std::cout << validation_text(report);
  ASSERT_EQ(report.outcomes.size(), 10u);
  for (const auto& o : report.outcomes) {
    EXPECT_LE(std::abs(o.relative_error()), report.per_row_tolerance)
        << o.id << ": predicted " << o.predicted << " measured " << o.measured;
  }
  EXPECT_LE(report.median_abs_error(), report.median_tolerance);
}

TEST(Validation, InferenceRecordsWithinTheirTolerance) {
  const ValidationReport report = validate_inference(testing::data_dir());
  std::cout << validation_text(report);
  ASSERT_GE(report.outcomes.size(), 12u);
  for (const auto& o : report.outcomes) {
    EXPECT_LE(std::abs(o.relative_error()), report.per_row_tolerance)
        << o.id << ": predicted " << o.predicted << " measured " << o.measured;
  }
  EXPECT_LE(report.median_abs_error(), report.median_tolerance);
}

}  // namespace
}  // namespace xpusim

namespace xpusim {
namespace {

// Kernel-level check of the GEMM cost (tile/wave quantization, roofline, fixed per-kernel
// time) against DeepGEMM's published H800 and torchao's B200 MXFP8 grouped-GEMM measurements
// (data/validation/gemm_kernels.json).
TEST(Validation, GemmCostAgainstMeasuredKernels) {
  std::ifstream in(testing::data_dir() / "validation" / "gemm_kernels.json");
  const auto doc = nlohmann::json::parse(in);
  const double row_tolerance = doc["tolerance"]["per_row_relative_error"];
  const double median_tolerance = doc["tolerance"]["median_relative_error"];
  std::vector<double> errors;
  for (const auto& r : doc["records"]) {
    const AcceleratorSpec hw = testing::hw(r["hw"]);
    Deployment d;
    d.weight_dtype = *parse_dtype(r["dtype"].get<std::string>());
    d.fp8_kind = *parse_gemm_kind(r["gemm_kind"].get<std::string>());
    const GemmShape shape{r["m"], r["n"], r["k"], r["groups"]};
    const KernelCost cost = gemm_cost(shape, hw, d);
    // The measurements are kernel durations: no launch gap between kernels.
    const Seconds duration = cost.time - hw.efficiency.kernel_overhead;
    const double predicted_tflops = (cost.flops / duration).value() / 1e12;
    const double measured = r["measured_tflops_per_s"];
    const double error = (predicted_tflops - measured) / measured;
    errors.push_back(std::abs(error));
    std::printf(
        "%-55s g=%-2lld M=%-5lld N=%-5lld K=%-5lld measured %6.0f predicted %6.0f TFLOP/s "
        "%+6.1f%%\n",
        r["kernel"].get<std::string>().c_str(), static_cast<long long>(shape.groups),
        static_cast<long long>(shape.m), static_cast<long long>(shape.n),
        static_cast<long long>(shape.k), measured, predicted_tflops, 100 * error);
    // A record may widen the file's per-row bound with its own, stating why.
    const double tolerance = r.contains("tolerance") ? r["tolerance"].get<double>() : row_tolerance;
    if (r.contains("tolerance")) EXPECT_FALSE(r["tolerance_reason"].get<std::string>().empty());
    EXPECT_LE(std::abs(error), tolerance)
        << r["kernel"] << " M=" << shape.m << " N=" << shape.n << " K=" << shape.k;
  }
  std::sort(errors.begin(), errors.end());
  const double median = errors[errors.size() / 2];
  std::printf("median |error| %.1f%%\n", 100 * median);
  EXPECT_LE(median, median_tolerance);
}

}  // namespace
}  // namespace xpusim

#include <set>

#include "xpusim/core/error.hpp"
#include "xpusim/validate/features.hpp"

namespace xpusim {
namespace {

// The training development set (data/validation/training_dev.json): every record parses, and
// either runs with today's features or names the ones it lacks.
TEST(TrainingDev, EveryRecordRunsOrNamesItsMissingFeatures) {
  const DevValidationReport report = validate_training_dev(testing::data_dir());
  ASSERT_EQ(report.outcomes.size(), 72u);
  for (const auto& o : report.outcomes) {
    EXPECT_TRUE(o.runs() || !o.missing.empty()) << o.id << ": " << o.detail;
    for (const auto& name : o.missing) {
      const TrainingFeature* f = find_training_feature(name);
      ASSERT_NE(f, nullptr) << name;
      EXPECT_FALSE(f->implemented) << name;
    }
    EXPECT_GT(o.measured, 0.0) << o.id;
    EXPECT_GT(o.tolerance, 0.0) << o.id;
    EXPECT_FALSE(o.tolerance_reason.empty()) << o.id;
  }
  int blocked = 0;
  for (const auto& [name, count] : report.blockers) blocked += count;
  int missing = 0;
  for (const auto& o : report.outcomes) missing += static_cast<int>(o.missing.size());
  EXPECT_EQ(blocked, missing);
  std::cout << dev_validation_text(report);
}

TEST(TrainingDev, FeatureNamesAreUnique) {
  std::set<std::string_view> names;
  for (const auto& f : kTrainingFeatures) EXPECT_TRUE(names.insert(f.name).second) << f.name;
  EXPECT_EQ(find_training_feature("no-such-feature"), nullptr);
  EXPECT_NE(find_training_feature("fsdp-per-layer"), nullptr);
}

/// A data directory holding only a copy of the dev set with `edit` applied to its JSON.
std::filesystem::path edited_dev_set(const std::string& name,
                                     const std::function<void(nlohmann::json&)>& edit) {
  std::ifstream in(testing::data_dir() / "validation" / "training_dev.json");
  nlohmann::json doc = nlohmann::json::parse(in);
  edit(doc);
  const auto dir = std::filesystem::temp_directory_path() / ("xpusim_trainval_" + name);
  std::filesystem::create_directories(dir / "validation");
  std::ofstream(dir / "validation" / "training_dev.json") << doc.dump();
  return dir;
}

std::string dev_error(const std::filesystem::path& dir) {
  try {
    (void)validate_training_dev(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TrainingDev, UnknownKeysAreErrorsWithASuggestion) {
  const auto dir = edited_dev_set("key", [](nlohmann::json& doc) {
    auto& plan = doc["records"][0]["xpusim"]["plan"];
    plan["tpp"] = plan["tp"];
    plan.erase("tp");
  });
  const std::string error = dev_error(dir);
  EXPECT_NE(error.find("records[torchtitan202412-llama3.1-8b-h100x8-fsdp-bf16].xpusim.plan: tpp: "
                       "unknown key (did you mean: tp"),
            std::string::npos)
      << error;
  const auto top = edited_dev_set("top", [](nlohmann::json& doc) { doc["record"] = 1; });
  EXPECT_NE(dev_error(top).find("record: unknown key (did you mean: records"), std::string::npos)
      << dev_error(top);
}

TEST(TrainingDev, UnknownFeaturesAndRecipesAreErrors) {
  const auto need = edited_dev_set("need", [](nlohmann::json& doc) {
    doc["records"][0]["xpusim"]["needs"] = {"fsdp-per-layr"};
  });
  EXPECT_NE(dev_error(need).find("needs: unknown feature 'fsdp-per-layr' (did you mean: "
                                 "fsdp-per-layer"),
            std::string::npos)
      << dev_error(need);
  const auto recipe = edited_dev_set("recipe", [](nlohmann::json& doc) {
    doc["records"][0]["xpusim"]["job"]["recipe"] = "fp8-delayd";
  });
  EXPECT_NE(dev_error(recipe).find("recipe: unknown recipe 'fp8-delayd' (did you mean: "
                                   "fp8-delayed"),
            std::string::npos)
      << dev_error(recipe);
}

TEST(TrainingDev, SummaryArithmetic) {
  const ErrorSummary even = summarize_errors({{"a", 0.10}, {"b", -0.30}, {"c", 0.05}, {"d", 0.25}});
  EXPECT_EQ(even.count, 4);
  EXPECT_DOUBLE_EQ(even.median_abs_error, (0.10 + 0.25) / 2.0);
  EXPECT_DOUBLE_EQ(even.share_within_20pct, 0.5);
  EXPECT_EQ(even.worst_id, "b");
  EXPECT_DOUBLE_EQ(even.worst_error, -0.30);
  const ErrorSummary odd = summarize_errors({{"a", -0.2}, {"b", 0.01}, {"c", 0.5}});
  EXPECT_DOUBLE_EQ(odd.median_abs_error, 0.2);
  EXPECT_NEAR(odd.share_within_20pct, 2.0 / 3.0, 1e-12);  // |error| = 0.20 counts as within
  EXPECT_EQ(odd.worst_id, "c");
  EXPECT_EQ(summarize_errors({}).count, 0);
}

TEST(TrainingDev, FamiliesCountOnlyRecordsThatRunUnlessProvisionalAsked) {
  DevOutcome runs;
  runs.id = "runs";
  runs.measured = 100.0;
  runs.predicted = 110.0;
  runs.accelerator = "h100-sxm";
  runs.precision = "bf16";
  runs.architecture = "dense";
  runs.framework = "torchtitan";
  DevOutcome provisional = runs;
  provisional.id = "provisional";
  provisional.predicted = 200.0;
  provisional.missing = {"fsdp-per-layer"};
  provisional.accelerator = "b200";
  DevOutcome none = runs;
  none.id = "none";
  none.predicted.reset();
  none.missing = {"lora"};
  const std::vector<DevOutcome> outcomes = {runs, provisional, none};
  const auto counted = summarize_by_family(outcomes, false);
  ASSERT_FALSE(counted.empty());
  EXPECT_EQ(counted.front().axis, "all");
  EXPECT_EQ(counted.front().count, 1);
  EXPECT_NEAR(counted.front().median_abs_error, 0.10, 1e-12);
  const auto all = summarize_by_family(outcomes, true);
  EXPECT_EQ(all.front().count, 2);
  EXPECT_NEAR(all.front().median_abs_error, (0.10 + 1.0) / 2.0, 1e-12);
  int accelerators = 0;
  for (const auto& s : all) accelerators += s.axis == "accelerator" ? 1 : 0;
  EXPECT_EQ(accelerators, 2);  // b200 and h100-sxm
}

// The issue's target for the training model (xpusim issue 7): median |error| <= 10% and at
// least 80% of the records within 20%, over the records that run. Disabled until the features
// in src/xpusim/validate/features.hpp land and most records run: the lead enables it.
TEST(TrainingDev, DISABLED_MeetsTheIssueTarget) {
  const DevValidationReport report = validate_training_dev(testing::data_dir());
  ASSERT_FALSE(report.summary.empty());
  const ErrorSummary& all = report.summary.front();
  EXPECT_GE(all.count, 36) << "fewer than half of the records run";
  EXPECT_LE(all.median_abs_error, 0.10);
  EXPECT_GE(all.share_within_20pct, 0.80);
  EXPECT_TRUE(report.target_met());
}

}  // namespace
}  // namespace xpusim
