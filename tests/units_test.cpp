#include <gtest/gtest.h>

#include <type_traits>

#include "xpusim/core/dtype.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/core/units.hpp"

namespace xpusim {
namespace {

template <class A, class B>
concept Addable = requires(A a, B b) {
  a + b;
};

TEST(Units, CrossUnitArithmeticHasPhysicalMeaning) {
  const Seconds t = Bytes(3.0e9) / BytesPerSecond(1.5e12);
  EXPECT_DOUBLE_EQ(t.value(), 2.0e-3);
  EXPECT_DOUBLE_EQ((Flops(1e15) / FlopsPerSecond(5e14)).value(), 2.0);
  EXPECT_DOUBLE_EQ((Watts(700) * Seconds(10)).value(), 7000.0);
  EXPECT_DOUBLE_EQ((UsdPerHour(3.6) * Seconds(1000)).value(), 1.0);
  static_assert(!Addable<Seconds, Bytes>, "seconds and bytes must not add");
  static_assert(Addable<Seconds, Seconds>);
}

TEST(DType, SizesAndNames) {
  EXPECT_EQ(bytes_per_element(DType::kBf16), 2.0);
  EXPECT_EQ(bytes_per_element(DType::kInt4), 0.5);
  EXPECT_EQ(parse_dtype("fp8"), DType::kFp8);
  EXPECT_FALSE(parse_dtype("bf17").has_value());
  for (DType d : kAllDTypes) EXPECT_EQ(parse_dtype(to_string(d)), d);
}

TEST(Error, SuggestsClosestIds) {
  const std::vector<std::string> ids = {"h100-sxm", "h200-sxm", "a100-sxm-80gb", "mi300x"};
  EXPECT_EQ(closest_matches("h100", ids).front(), "h100-sxm");
  EXPECT_EQ(closest_matches("mi300", ids).front(), "mi300x");
  EXPECT_TRUE(closest_matches("zzzzzzzz", ids).empty());
}

}  // namespace
}  // namespace xpusim
