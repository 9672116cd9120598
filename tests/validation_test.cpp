// Holds the single-node inference model against published measurements
// (data/validation/inference_public.json) under the file's own tolerance.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
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
// time) against DeepGEMM's published H800 measurements (data/validation/gemm_kernels.json).
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
    EXPECT_LE(std::abs(error), row_tolerance)
        << r["kernel"] << " M=" << shape.m << " N=" << shape.n << " K=" << shape.k;
  }
  std::sort(errors.begin(), errors.end());
  const double median = errors[errors.size() / 2];
  std::printf("median |error| %.1f%%\n", 100 * median);
  EXPECT_LE(median, median_tolerance);
}

}  // namespace
}  // namespace xpusim
