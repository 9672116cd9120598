#include <gtest/gtest.h>

#include "test_support.hpp"
#include "xpusim/econ/economics.hpp"
#include "xpusim/infer/inference.hpp"

namespace xpusim {
namespace {

Economics economics() {
  return load_economics(testing::data_dir() / "economics.yaml");
}

InferenceRequest request(int devices, int64_t batch, int64_t in, int64_t out) {
  InferenceRequest r;
  r.devices = devices;
  r.batch = batch;
  r.input_len = in;
  r.output_len = out;
  return r;
}

TEST(Inference, ThroughputCountsGeneratedTokensOfTheBatchOverEndToEnd) {
  const auto m = testing::model("llama-2-70b");
  const auto hw = testing::hw("h100-sxm");
  const auto r = request(8, 16, 1024, 128);
  const InferenceResult x = estimate_inference(m, hw, r, economics());
  EXPECT_NEAR(x.throughput_tokens_per_s, 16.0 * 128 / x.e2e_latency.value(), 1e-9);
  EXPECT_NEAR(x.e2e_latency.value(), x.ttft.value() + 127 * x.tpot.value(), 1e-12);
  EXPECT_EQ(x.ttft, x.prefill.time);
  EXPECT_GE(x.tpot_last, x.tpot_first);  // the context grows
  EXPECT_TRUE(x.fits);
}

TEST(Inference, DecodeStepsSumLikeTheExplicitLoop) {
  const auto m = testing::model("llama-2-7b");
  const auto hw = testing::hw("a100-sxm-80gb");
  const auto r = request(1, 4, 100, 50);
  const InferenceResult x = estimate_inference(m, hw, r, economics());
  double explicit_sum = 0;
  for (int64_t j = 1; j < r.output_len; ++j)
    explicit_sum += cost_pass(m, hw, deployment_for(r), {4, 1, 100 + j - 1}).time.value();
  EXPECT_NEAR(x.e2e_latency.value() - x.ttft.value(), explicit_sum, explicit_sum * 1e-3);
}

TEST(Inference, NotFittingIsAnAnswerWithWhatIsNeeded) {
  const auto m = testing::model("llama-2-70b");
  const auto hw = testing::hw("a100-sxm-80gb");
  const InferenceResult x = estimate_inference(m, hw, request(1, 1, 128, 128), economics());
  EXPECT_FALSE(x.fits);
  EXPECT_GT(x.memory.weights, hw.memory_capacity);
  EXPECT_EQ(x.max_batch, 0);
}

TEST(Inference, MaxBatchIsTheLargestThatFits) {
  const auto m = testing::model("llama-2-70b");
  const auto hw = testing::hw("h100-sxm");
  auto r = request(8, 1, 2048, 256);
  const int64_t max = max_batch_that_fits(m, hw, r);
  ASSERT_GT(max, 1);
  r.batch = max;
  EXPECT_LE(memory_per_device(m, hw, r).total(), hw.memory_capacity);
  r.batch = max + 1;
  EXPECT_GT(memory_per_device(m, hw, r).total(), hw.memory_capacity);
}

TEST(Inference, KvCacheMemoryMatchesTheClosedForm) {
  const auto m = testing::model("llama-2-70b");
  const auto r = request(8, 10, 1000, 24);
  // 80 layers x K and V x 8 heads / 8 devices x 128 x 2 bytes per token.
  const double expected = 10.0 * 1024 * 80 * 2 * 1 * 128 * 2;
  EXPECT_DOUBLE_EQ(memory_per_device(m, testing::hw("h100-sxm"), r).kv_cache.value(), expected);
}

TEST(Inference, LowerPrecisionWeightsNeedLessMemoryAndDecodeFaster) {
  const auto m = testing::model("llama-2-70b");
  const auto hw = testing::hw("h100-sxm");
  auto bf16 = request(8, 1, 512, 64);
  auto fp8 = bf16;
  fp8.weight_dtype = DType::kFp8;
  const auto a = estimate_inference(m, hw, bf16, economics());
  const auto b = estimate_inference(m, hw, fp8, economics());
  EXPECT_NEAR(b.memory.weights / a.memory.weights, 0.5, 0.01);
  EXPECT_LT(b.tpot, a.tpot);
}

TEST(Inference, CostAndEnergyFollowFromPriceAndPower) {
  const auto m = testing::model("llama-2-7b");
  const auto hw = testing::hw("h100-sxm");
  const auto r = request(2, 8, 256, 256);
  const auto x = estimate_inference(m, hw, r, economics());
  const double tokens = 8.0 * 256;
  EXPECT_NEAR(x.energy_per_token.value(), hw.tdp.value() * 2 * x.e2e_latency.value() / tokens,
              1e-9);
  const auto hourly = hourly_cost(hw, economics());
  ASSERT_TRUE(hourly.has_value());
  ASSERT_TRUE(x.cost_per_million_tokens_usd.has_value());
  EXPECT_NEAR(*x.cost_per_million_tokens_usd,
              hourly->per_device.value() * 2 * x.e2e_latency.value() / 3600 / tokens * 1e6, 1e-9);
}

TEST(Inference, OwnedCostAmortizesThePriceAndPaysForPower) {
  AcceleratorSpec hw = testing::hw("h100-sxm");
  hw.cloud_price.reset();
  hw.purchase_price = PurchasePrice{Usd(30000), "street_estimate", "2024"};
  Economics e{0.10, 1.5, 5.0, 1.0};
  const auto cost = hourly_cost(hw, e);
  ASSERT_TRUE(cost.has_value());
  EXPECT_EQ(cost->basis, "owned");
  EXPECT_NEAR(cost->per_device.value(), 60000.0 / (5 * 8766) + 0.7 * 1.5 * 0.10, 1e-9);
}

}  // namespace
}  // namespace xpusim
