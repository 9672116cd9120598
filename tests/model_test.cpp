#include <gtest/gtest.h>

#include "test_files.hpp"
#include "test_support.hpp"

namespace xpusim {
namespace {

using testing::model;

TEST(ParameterCount, ExactForTheReferenceModels) {
  EXPECT_EQ(count_parameters(model("llama-2-7b")).total, 6'738'415'616);
  EXPECT_EQ(count_parameters(model("llama-2-70b")).total, 68'976'648'192);
  EXPECT_EQ(count_parameters(model("mixtral-8x7b")).total, 46'702'792'704);
}

TEST(ParameterCount, MixtralActiveParametersAreTopTwoOfEightExperts) {
  const ParameterCount p = count_parameters(model("mixtral-8x7b"));
  const int64_t one_expert = 3LL * 4096 * 14336;
  EXPECT_EQ(p.active_per_token, p.total - 32LL * (8 - 2) * one_expert);
}

// Published totals (data/models/SOURCES.md); the configs reproduce them to the stated digits.
TEST(ParameterCount, MatchesPublishedTotals) {
  const struct {
    const char* id;
    double published;
    double tolerance;
  } cases[] = {
      {"deepseek-v3", 671e9, 0.002},     {"gpt-oss-120b", 116.8e9, 0.002},
      {"qwen3-235b-a22b", 235e9, 0.002}, {"qwen3-30b-a3b", 30.5e9, 0.003},
      {"mixtral-8x22b", 141e9, 0.005},   {"llama-3.1-405b", 405e9, 0.003},
      {"qwen2-72b", 72.7e9, 0.002},      {"mistral-7b", 7.24e9, 0.002},
      {"gpt3-175b", 175e9, 0.005},       {"llama-3.1-8b", 8.03e9, 0.002},
      {"gpt-j-6b", 6.05e9, 0.002},       {"nemotron-4-340b", 341e9, 0.002},
  };
  for (const auto& c : cases) {
    const double total = static_cast<double>(count_parameters(model(c.id)).total);
    EXPECT_NEAR(total / c.published, 1.0, c.tolerance) << c.id << " counts " << total;
  }
}

TEST(ModelConfig, Llama4ScoutIsTopOneOfSixteenWithASharedExpertAndChunkedLayers) {
  const ModelSpec m = model("llama-4-scout-17b-16e");
  ASSERT_TRUE(m.moe.has_value());
  EXPECT_EQ(m.moe->num_experts, 16);
  EXPECT_EQ(m.moe->experts_per_token, 1);
  EXPECT_EQ(m.moe->shared_experts, 1);
  EXPECT_EQ(m.moe_layers(), 48);
  EXPECT_EQ(m.sliding_layers(), 36);  // three RoPE (chunked) layers in every four
  const ParameterCount p = count_parameters(m);
  // 109B / 17B on the model card count the vision tower too.
  EXPECT_NEAR(static_cast<double>(p.total) / 109e9, 1.0, 0.015);
  EXPECT_NEAR(static_cast<double>(p.active_per_token) / 17e9, 1.0, 0.015);
  // Maverick's interleaving: MoE in every second layer (layers 1, 3, 5, ...).
  ModelSpec maverick = m;
  maverick.moe->layer_step = 2;
  EXPECT_FALSE(maverick.is_moe_layer(0));
  EXPECT_TRUE(maverick.is_moe_layer(1));
  EXPECT_EQ(maverick.moe_layers(), 24);
}

TEST(ModelConfig, NemotronHasASquaredReluMlpLayerNormAndHalfRotary) {
  const ModelSpec m = model("nemotron-4-340b");
  EXPECT_EQ(m.mlp, MlpKind::kPlain);
  EXPECT_EQ(m.norm, NormKind::kLayer);
  EXPECT_EQ(m.rotary_dim, 96);
  EXPECT_EQ(m.kv_heads, 8);
  const std::string gated = R"({"model_type": "nemotron", "hidden_size": 64,
      "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 256,
      "vocab_size": 100, "hidden_act": "silu"})";
  EXPECT_EQ(testing::error_of([&] { (void)parse_model_config(gated, "c.json", "c"); }),
            "c.json: hidden_act: expected relu2 (Nemotron's squared ReLU)");
}

TEST(ParameterCount, ActivePerTokenOfSparseModels) {
  // DeepSeek-V3: 37B activated (without the input embedding, per its report); gpt-oss-120b 5.1B.
  const ModelSpec v3 = model("deepseek-v3");
  const ParameterCount p = count_parameters(v3);
  EXPECT_NEAR(static_cast<double>(p.active_per_token - p.embedding) / 37e9, 1.0, 0.02);
  const ParameterCount oss = count_parameters(model("gpt-oss-120b"));
  EXPECT_NEAR(static_cast<double>(oss.active_per_token - oss.embedding) / 5.13e9, 1.0, 0.01);
}

TEST(Flops, ForwardIsTwicePerWeightPlusAttention) {
  const ModelSpec m = model("llama-2-7b");
  const ParameterCount p = count_parameters(m);
  const double norms = 32.0 * 2 * 4096 + 4096;
  const double matmul = static_cast<double>(p.total - p.embedding) - norms;  // LM head included
  for (double attended : {1.0, 2048.0}) {
    const double attention = 32.0 * 4.0 * 4096.0 * attended;  // QK^T and AV, 2 FLOPs per MAC
    EXPECT_DOUBLE_EQ(forward_flops_per_token(m, attended), 2.0 * matmul + attention);
  }
}

TEST(Flops, TrainingIsThreeForwardPassesOverTheCausalMean) {
  const ModelSpec m = model("llama-2-7b");
  EXPECT_DOUBLE_EQ(training_flops_per_token(m, 4096), 3.0 * forward_flops_per_token(m, 2048.5));
}

TEST(Flops, MoeCountsOnlyRoutedExperts) {
  const ModelSpec m = model("mixtral-8x7b");
  const ParameterCount p = count_parameters(m);
  const double norms = 32.0 * 2 * 4096 + 4096;
  const double active_matmul = static_cast<double>(p.active_per_token - p.embedding) - norms;
  EXPECT_DOUBLE_EQ(forward_flops_per_token(m, 1.0), 2.0 * active_matmul + 32.0 * 4.0 * 4096.0);
}

TEST(Model, SlidingWindowLayersOfGptOssAlternate) {
  const ModelSpec m = model("gpt-oss-120b");
  EXPECT_EQ(m.sliding_window, 128);
  EXPECT_EQ(m.sliding_layers(), 18);
  EXPECT_TRUE(m.layer_sliding[0]);
  EXPECT_FALSE(m.layer_sliding[1]);
  // Attention of sliding layers stops growing past the window.
  const double short_ctx = forward_flops_per_token(m, 1000.0),
               long_ctx = forward_flops_per_token(m, 2000.0);
  const double full_layer_growth = 18.0 * 2.0 * 64 * (64 + 64) * 1000.0;
  EXPECT_DOUBLE_EQ(long_ctx - short_ctx, full_layer_growth);
}

TEST(Model, DeepSeekV3HasLatentAttentionAndDenseFirstLayers) {
  const ModelSpec m = model("deepseek-v3");
  ASSERT_TRUE(m.mla.has_value());
  ASSERT_TRUE(m.moe.has_value());
  EXPECT_EQ(m.moe->first_dense_layers, 3);
  EXPECT_EQ(m.moe->shared_experts, 1);
  EXPECT_FALSE(m.is_moe_layer(2));
  EXPECT_TRUE(m.is_moe_layer(3));
  EXPECT_DOUBLE_EQ(kv_cache_elements_per_token(m), 61.0 * (512 + 64));
}

TEST(Model, GroupedQueryAttentionShrinksTheKvCache) {
  EXPECT_DOUBLE_EQ(kv_cache_elements_per_token(model("llama-2-70b")), 80.0 * 2 * 8 * 128);
  EXPECT_DOUBLE_EQ(kv_cache_elements_per_token(model("llama-2-7b")), 32.0 * 2 * 32 * 128);
}

}  // namespace
}  // namespace xpusim
