#include <gtest/gtest.h>

#include <type_traits>

#include "xpusim/comm/collectives.hpp"
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

// nccl-tests: all-reduce bus bandwidth = algbw * 2(n-1)/n, so a large message's time is
// bytes * 2(n-1)/n / busbw; all-gather uses (n-1)/n.
TEST(Collectives, LargeMessagesMatchNcclTestsBusBandwidth) {
  const Link link{BytesPerSecond(450e9), 0.8, Seconds(2e-6)};
  const Bytes message(8.0 * (1ull << 30));
  const double busbw = 450e9 * 0.8;
  for (int n : {2, 4, 8}) {
    const double expected = message.value() * 2.0 * (n - 1) / n / busbw;
    EXPECT_NEAR(all_reduce_time(message, n, link).value(), expected, expected * 0.01) << n;
    const double gather = message.value() * (n - 1.0) / n / busbw;
    EXPECT_NEAR(ring_all_gather_time(message, n, link).value(), gather, gather * 0.01) << n;
  }
}

TEST(Collectives, SmallMessagesAreLatencyBound) {
  const Link link{BytesPerSecond(450e9), 0.8, Seconds(2e-6)};
  const Seconds t = all_reduce_time(Bytes(8192), 8, link);
  EXPECT_GT(t.value(), 3 * 2e-6);          // at least log2(8) latency steps
  EXPECT_LT(t.value(), 14 * 2e-6 + 1e-6);  // never worse than the ring
  EXPECT_EQ(all_reduce_time(Bytes(1e9), 1, link).value(), 0.0);
}

}  // namespace
}  // namespace xpusim
