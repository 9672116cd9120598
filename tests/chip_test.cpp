// Chips from their micro-architecture: derived peaks against published ones, die economics,
// the derived entry read back through the accelerator parser, strict parsing.

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "test_support.hpp"
#include "xpusim/chip/derive.hpp"
#include "xpusim/core/error.hpp"

namespace xpusim {
namespace {

using testing::data_dir;

ChipSpec chip(const std::string& id) {
  return load_chip_file(data_dir() / "chips" / (id + ".yaml"));
}

double relative_error(double derived, double published) {
  return std::abs(derived - published) / published;
}

/// The stated tolerances of docs/model.md: 1% where the micro-architecture is published in
/// full (H100), 3% where the clock or a unit dimension is an estimate (Maia 100).
TEST(ChipDerive, H100PeaksWithinOnePercentOfPublished) {
  const ChipPeaks peaks = derive_peaks(chip("h100"));
  const AcceleratorSpec published = testing::hw("h100-sxm");
  for (DType dtype :
       {DType::kFp32, DType::kTf32, DType::kBf16, DType::kFp16, DType::kFp8, DType::kInt8}) {
    ASSERT_TRUE(peaks.peak(dtype)) << to_string(dtype);
    EXPECT_LT(relative_error(peaks.peak(dtype)->value(), published.peak(dtype)->value()), 0.01)
        << to_string(dtype);
  }
  EXPECT_LT(relative_error(peaks.memory_bandwidth.value(), published.memory_bandwidth.value()),
            0.01);
  EXPECT_EQ(peaks.memory_capacity.value(), published.memory_capacity.value());
  EXPECT_EQ(peaks.scale_up_bandwidth.value(), published.scale_up_bandwidth.value());
  EXPECT_EQ(peaks.scale_out_bandwidth->value(), published.scale_out_bandwidth->value());
}

TEST(ChipDerive, Maia100PeaksWithinThreePercentOfPublished) {
  const ChipPeaks peaks = derive_peaks(chip("maia100"));
  const AcceleratorSpec published = testing::hw("maia100");
  EXPECT_LT(relative_error(peaks.peak(DType::kBf16)->value(), 800e12), 0.03);
  EXPECT_LT(
      relative_error(peaks.peak(DType::kBf16)->value(), published.peak(DType::kBf16)->value()),
      0.03);
  EXPECT_LT(relative_error(peaks.memory_bandwidth.value(), published.memory_bandwidth.value()),
            0.03);
  EXPECT_EQ(peaks.memory_capacity.value(), published.memory_capacity.value());
  EXPECT_EQ(peaks.onchip_sram.value(), published.onchip_sram->value());
  EXPECT_EQ(peaks.scale_up_bandwidth.value(), published.scale_up_bandwidth.value());
  EXPECT_FALSE(peaks.peak(DType::kFp8).has_value());
}

TEST(ChipDerive, PeakIsUnitsTimesShapeTimesRateTimesTwoTimesClock) {
  ChipSpec c = chip("h100");
  const double base = derive_peaks(c).peak(DType::kBf16)->value();
  EXPECT_DOUBLE_EQ(base, 528.0 * 8 * 4 * 16 * 2 * 1.83e9);
  c.matrix_clock_hz *= 1.1;  // a clock edit changes the peak in proportion
  EXPECT_NEAR(derive_peaks(c).peak(DType::kBf16)->value(), base * 1.1, base * 1e-12);
  c.matrix_units *= 2;
  EXPECT_NEAR(derive_peaks(c).peak(DType::kBf16)->value(), base * 2.2, base * 1e-12);
}

TEST(ChipDerive, DiesPerWaferAndYieldFollowTheirFormulas) {
  // pi 300^2 / 400 - pi 300 / sqrt(200) = 706.86 - 66.64 = 640.2
  EXPECT_EQ(dies_per_wafer(300.0, 100.0), 640.0);
  EXPECT_EQ(dies_per_wafer(300.0, 1e6), 0.0);
  EXPECT_NEAR(die_yield(YieldModel::kPoisson, 800.0, 0.1), std::exp(-0.8), 1e-12);
  const double f = (1.0 - std::exp(-0.8)) / 0.8;
  EXPECT_NEAR(die_yield(YieldModel::kMurphy, 800.0, 0.1), f * f, 1e-12);
  EXPECT_EQ(die_yield(YieldModel::kMurphy, 800.0, 0.0), 1.0);
  // Murphy is never below Poisson for the same defects per die.
  for (double a : {100.0, 400.0, 858.0})
    EXPECT_GE(die_yield(YieldModel::kMurphy, a, 0.1), die_yield(YieldModel::kPoisson, a, 0.1));
}

TEST(ChipDerive, UnitCostIsTheSumOfItsPartsAndRisesWithDefects) {
  const ChipSpec maia = chip("maia100");
  ChipInputs inputs = load_chip_inputs(maia, data_dir() / "process");
  const UnitCost cost = derive_unit_cost(maia, inputs);
  EXPECT_TRUE(cost.within_reticle);
  EXPECT_NEAR(cost.good_die.value(),
              inputs.node.wafer_price.value() / (cost.dies_per_wafer * cost.yield), 1e-9);
  EXPECT_NEAR(cost.memory.value(), 64.0 * inputs.memory.price_usd_per_gb, 1e-9);
  EXPECT_NEAR(cost.total().value(), (cost.logic + cost.memory + cost.package + cost.test).value(),
              1e-9);
  inputs.node.defect_density_per_cm2 *= 2.0;
  EXPECT_GT(derive_unit_cost(maia, inputs).total(), cost.total());
}

TEST(ChipDerive, DieBeyondTheReticleIsFlaggedNotRefused) {
  ChipSpec big = chip("maia100");
  big.die_area_mm2 = 1000.0;
  const UnitCost cost = derive_unit_cost(big, load_chip_inputs(big, data_dir() / "process"));
  EXPECT_FALSE(cost.within_reticle);
  EXPECT_GT(cost.dies_per_wafer, 0.0);
}

TEST(ChipDerive, EntryReadsBackThroughTheAcceleratorParser) {
  for (const char* id : {"h100", "maia100", "wave-dataflow"}) {
    const ChipSpec c = chip(id);
    const ChipInputs inputs = load_chip_inputs(c, data_dir() / "process");
    const AcceleratorSpec sibling = testing::hw(c.sibling);
    const ChipDerivation derivation = derive_chip(c, inputs);
    const auto path = std::filesystem::temp_directory_path() / (c.id + ".yaml");
    std::ofstream(path) << accelerator_entry_yaml(c, inputs, derivation, sibling);
    const AcceleratorSpec entry = load_accelerator_file(path);
    EXPECT_EQ(entry.id, c.id);
    for (DType dtype : kAllDTypes) {
      ASSERT_EQ(entry.peak(dtype).has_value(), derivation.peaks.peak(dtype).has_value());
      if (entry.peak(dtype)) {
        EXPECT_NEAR(entry.peak(dtype)->value(), derivation.peaks.peak(dtype)->value(),
                    derivation.peaks.peak(dtype)->value() * 1e-12);
      }
    }
    EXPECT_DOUBLE_EQ(entry.memory_bandwidth.value(), derivation.peaks.memory_bandwidth.value());
    EXPECT_DOUBLE_EQ(entry.purchase_price->amount.value(), derivation.cost.total().value());
    // The calibration is the sibling's, figure for figure.
    EXPECT_EQ(entry.efficiency.gemm_fraction(GemmKind::kBf16),
              sibling.efficiency.gemm_fraction(GemmKind::kBf16));
    EXPECT_EQ(entry.efficiency.attention_overhead_tokens,
              sibling.efficiency.attention_overhead_tokens);
    EXPECT_EQ(entry.efficiency.scale_up_bus_bandwidth_curve.count,
              sibling.efficiency.scale_up_bus_bandwidth_curve.count);
    EXPECT_EQ(entry.efficiency.best_attention_kernel(), sibling.efficiency.best_attention_kernel());
    std::filesystem::remove(path);
  }
}

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(ChipParse, UnknownKeyIsAnErrorWithASuggestion) {
  const auto path = std::filesystem::temp_directory_path() / "chip_bad.yaml";
  std::ifstream in(data_dir() / "chips" / "maia100.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string anchor = "  generation: hbm2e\n";
  text.insert(text.find(anchor) + anchor.size(), "  stack: {value: 4, estimate: typo}\n");
  write(path, text);
  try {
    (void)load_chip_file(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), path.string() +
                                         ": memory.stack: unknown key (did you mean: stacks, "
                                         "capacity_per_stack_bytes, pins_per_stack?)");
  }
  std::filesystem::remove(path);
}

TEST(ChipParse, UnknownProcessNodeNamesTheClosest) {
  ChipSpec c = chip("maia100");
  c.node = "tsmc-n6";
  try {
    (void)load_chip_inputs(c, data_dir() / "process");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("process.node: unknown process node 'tsmc-n6'"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("tsmc-n5"), std::string::npos) << e.what();
  }
}

TEST(ChipParse, EveryProcessFigureCarriesItsSourceOrBasis) {
  for (const char* id : {"h100", "maia100", "wave-dataflow"}) {
    const ChipSpec c = chip(id);
    const ChipInputs inputs = load_chip_inputs(c, data_dir() / "process");
    for (const auto* figures :
         {&c.figures, &inputs.node.figures, &inputs.memory.figures, &inputs.packaging.figures}) {
      for (const Figure& f : *figures)
        EXPECT_TRUE(!f.provenance.source_id.empty() || !f.provenance.estimate.empty()) << f.key;
    }
  }
}

}  // namespace
}  // namespace xpusim
