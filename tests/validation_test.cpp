// Holds the single-node inference model against published measurements
// (data/validation/inference_public.json) under the file's own tolerance.

#include <gtest/gtest.h>

#include <iostream>

#include "test_support.hpp"
#include "xpusim/infer/validation.hpp"

namespace xpusim {
namespace {

TEST(Validation, InferenceRecordsWithinTheirTolerance) {
  const ValidationReport report = validate_inference(testing::data_dir());
  std::cout << validation_text(report);
  ASSERT_GE(report.outcomes.size(), 12u);
  for (const auto& o : report.outcomes) {
    EXPECT_LE(std::abs(o.relative_error()), report.per_row_tolerance) << o.id << ": predicted " << o.predicted << " measured " << o.measured;
  }
  EXPECT_LE(report.median_abs_error(), report.median_tolerance);
}

}  // namespace
}  // namespace xpusim
