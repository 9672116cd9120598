#include <gtest/gtest.h>

#include <algorithm>

#include "test_support.hpp"

namespace xpusim {
namespace {

using testing::hardware_dir;

TEST(HardwareCatalog, HoldsTheRequiredAccelerators) {
  const auto ids = accelerator_ids(hardware_dir());
  for (const char* id : {"a100-sxm-80gb", "h100-sxm", "h200-sxm", "b200", "gb200", "mi300x",
                         "mi325x", "gaudi3", "tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e", "trainium1",
                         "trainium2", "inferentia2", "maia100", "mtia-v2"}) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id;
  }
}

TEST(HardwareCatalog, EveryFigureCarriesItsSourceOrItsBasis) {
  for (const auto& hw : load_all_accelerators(hardware_dir())) {
    EXPECT_EQ(hw.id, hw.file.stem().string());
    EXPECT_GE(hw.figures.size(), 15u) << hw.id;
    for (const auto& f : hw.figures) {
      const bool sourced = std::any_of(hw.sources.begin(), hw.sources.end(), [&](const Source& s) {
        return s.id == f.provenance.source_id;
      });
      EXPECT_TRUE(sourced || !f.provenance.estimate.empty()) << hw.id << " " << f.key;
    }
    for (const auto& s : hw.sources) EXPECT_FALSE(s.url.empty()) << hw.id << " " << s.id;
  }
}

TEST(HardwareCatalog, FiguresArePhysicallyPlausible) {
  for (const auto& hw : load_all_accelerators(hardware_dir())) {
    const double bf16 = hw.peak(DType::kBf16)->value();
    EXPECT_GT(bf16, 1e13) << hw.id;
    if (auto fp8 = hw.peak(DType::kFp8)) {
      EXPECT_GE(fp8->value(), bf16) << hw.id;
    }
    EXPECT_GT(hw.memory_capacity.value(), 1e9) << hw.id;
    EXPECT_GT(hw.memory_bandwidth.value(), 1e10) << hw.id;
    EXPECT_GT(hw.tdp.value(), 10.0) << hw.id;
    const Efficiency& e = hw.efficiency;
    const double best_attention = *e.attention_fraction(e.best_attention_kernel(), false);
    for (double fraction : {e.gemm_fraction(GemmKind::kBf16), best_attention,
                            e.memory_bandwidth_fraction, e.scale_up_bandwidth_fraction}) {
      EXPECT_GT(fraction, 0.2) << hw.id;
      EXPECT_LE(fraction, 1.0) << hw.id;
    }
  }
}

TEST(HardwareCatalog, UserFileByPathLoadsLikeACatalogId) {
  const auto by_id = testing::hw("h100-sxm");
  const auto by_path =
      load_accelerator((hardware_dir() / "h100-sxm.yaml").string(), hardware_dir());
  EXPECT_EQ(by_id.name, by_path.name);
  EXPECT_EQ(by_id.memory_bandwidth, by_path.memory_bandwidth);
}

TEST(ModelCatalog, EveryConfigLoads) {
  const auto ids = model_ids(testing::models_dir());
  EXPECT_GE(ids.size(), 16u);
  for (const auto& id : ids) EXPECT_NO_THROW((void)testing::model(id)) << id;
}

}  // namespace
}  // namespace xpusim
