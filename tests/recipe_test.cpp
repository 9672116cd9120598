// Precision recipes, elementwise kernels, recomputation policies and software stacks as the
// training cost model prices them (docs/model.md, "Precision recipes", "Elementwise kernels",
// "Recomputation", "Software stacks in a training job").

#include <gtest/gtest.h>

#include "test_support.hpp"
#include "xpusim/cost/operators.hpp"
#include "xpusim/stack/stack.hpp"
#include "xpusim/system/system.hpp"
#include "xpusim/train/training.hpp"

namespace xpusim {
namespace {

SystemSpec system(const std::string& id, int nodes) {
  return with_nodes(load_system(id, testing::data_dir() / "systems", testing::hardware_dir()),
                    nodes);
}

StackSpec stack(const std::string& id) {
  return load_stack(id, testing::data_dir() / "stacks");
}

TrainingJob job(PrecisionRecipe recipe) {
  TrainingJob j;
  j.global_batch = 16;
  j.seq_len = 8192;
  j.recipe = recipe;
  return j;
}

ParallelPlan fsdp8() {
  ParallelPlan p;
  p.dp = 8;
  p.micro_batch = 2;
  p.zero_stage = 3;
  return p;
}

/// Forward plus backward of one layer and one micro-batch.
Seconds layer_time(const ModelSpec& m, const SystemSpec& s, const TrainingJob& j,
                   const ParallelPlan& p) {
  const LayerCost c = micro_batch_cost(m, s, j, p).layer;
  return c.forward + c.backward;
}

PassCost layer_pass(const ModelSpec& m, const AcceleratorSpec& hw, const Deployment& d) {
  return cost_layer_forward(m, hw, d, {2, 8192, 0}, false, false);
}

TEST(Recipe, CurrentScalingPaysAnAmaxPassOverEveryOperand) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const AcceleratorSpec hw = testing::hw("h100-sxm");
  Deployment delayed;
  delayed.weight_dtype = DType::kFp8;
  delayed.recipe = PrecisionRecipe::kFp8Delayed;
  Deployment current = delayed;
  current.recipe = PrecisionRecipe::kFp8Current;
  const auto quantize = static_cast<std::size_t>(OpKind::kQuantize);
  const PassCost a = layer_pass(m, hw, delayed);
  const PassCost b = layer_pass(m, hw, current);
  // The amax pass reads each bf16 input once more: 2 bytes per element of the four GEMM inputs
  // (hidden, hidden, hidden and ffn wide), and fused stacks cannot fold the cast into the norm.
  EXPECT_GT(b.by_op[quantize].bytes.value(), a.by_op[quantize].bytes.value());
  EXPECT_GT(b.quantize_backward.value(), a.quantize_backward.value());
  EXPECT_GT(b.weight_quantize.value(), a.weight_quantize.value());
  // The GEMMs themselves are the same.
  const auto qkv = static_cast<std::size_t>(OpKind::kQkvProjection);
  EXPECT_EQ(a.by_op[qkv].time.value(), b.by_op[qkv].time.value());
  const SystemSpec s = system("dgx-h100-superpod", 1);
  EXPECT_GT(layer_time(m, s, job(PrecisionRecipe::kFp8Current), fsdp8()).value(),
            layer_time(m, s, job(PrecisionRecipe::kFp8Delayed), fsdp8()).value());
}

TEST(Recipe, HopperNeedsTransposedCopiesThatBlackwellDoesNot) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  Deployment d;
  d.weight_dtype = DType::kFp8;
  d.recipe = PrecisionRecipe::kFp8Delayed;
  d.fused_elementwise = false;  // every input cast reads its bf16 tensor
  const auto quantize = static_cast<std::size_t>(OpKind::kQuantize);
  const double tokens = 2.0 * 8192.0;
  const double inputs = tokens * (3.0 * m.hidden + m.ffn_dim);  // qkv, out, up, down inputs
  // Hopper: read 2 B, write a rowwise and a transposed fp8 copy; Blackwell: one copy.
  EXPECT_NEAR(layer_pass(m, testing::hw("h100-sxm"), d).by_op[quantize].bytes.value(), inputs * 4.0,
              1.0);
  EXPECT_NEAR(layer_pass(m, testing::hw("b200"), d).by_op[quantize].bytes.value(), inputs * 3.0,
              1.0);
  // MXFP8 writes both block directions with their e8m0 scales on any chip.
  d.recipe = PrecisionRecipe::kMxfp8;
  EXPECT_NEAR(layer_pass(m, testing::hw("b200"), d).by_op[quantize].bytes.value(),
              inputs * (2.0 + 2.0 * (1.0 + 1.0 / 32.0)), 1.0);
}

TEST(Recipe, Mxfp8OnB200IsFasterThanBf16ByLessThanTwofold) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = system("dgx-b200", 1);
  const double bf16 = layer_time(m, s, job(PrecisionRecipe::kBf16), fsdp8()).value();
  const double mx = layer_time(m, s, job(PrecisionRecipe::kMxfp8), fsdp8()).value();
  EXPECT_GT(bf16 / mx, 1.0);
  EXPECT_LT(bf16 / mx, 2.0);
}

TEST(Recipe, TheLmHeadAndRouterStayInBf16) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const AcceleratorSpec hw = testing::hw("h100-sxm");
  Deployment bf16;
  Deployment fp8;
  fp8.weight_dtype = DType::kFp8;
  fp8.recipe = PrecisionRecipe::kFp8Delayed;
  const auto head = static_cast<std::size_t>(OpKind::kLmHead);
  const PassShape shape{2, 8192, 0};
  EXPECT_EQ(cost_embedding_and_head_forward(m, hw, bf16, shape).by_op[head].time.value(),
            cost_embedding_and_head_forward(m, hw, fp8, shape).by_op[head].time.value());
}

TEST(Recipe, BlockScaledFormatsNeedTheirOwnTensorCores) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec h100 = system("dgx-h100-superpod", 1);
  EXPECT_EQ(plan_problem(m, h100, job(PrecisionRecipe::kMxfp8), fsdp8()),
            "recipe mxfp8 needs block-scaled mxfp8 GEMMs; h100-sxm has no "
            "efficiency.gemm_fraction_of_peak.mxfp8 figure");
  EXPECT_EQ(plan_problem(m, h100, job(PrecisionRecipe::kNvfp4), fsdp8()),
            "recipe nvfp4 needs fp4 matrix units; h100-sxm has no fp4 peak");
  EXPECT_FALSE(plan_problem(m, system("dgx-b200", 1), job(PrecisionRecipe::kNvfp4), fsdp8()));
}

TEST(Recipe, Nvfp4KeepsAShareOfTheLayersInBf16) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = system("dgx-b200", 1);
  Deployment fp4;
  fp4.weight_dtype = DType::kFp8;
  fp4.fp8_kind = GemmKind::kNvfp4;
  fp4.recipe = PrecisionRecipe::kNvfp4;
  const Deployment bf16;
  const PassShape shape{2, 8192, 0};
  const double quantized =
      cost_layer_forward(m, s.accelerator, fp4, shape, false, false).time.value();
  const double high = cost_layer_forward(m, s.accelerator, bf16, shape, false, false).time.value();
  const LayerCost layer = micro_batch_cost(m, s, job(PrecisionRecipe::kNvfp4), fsdp8()).layer;
  EXPECT_NEAR(layer.forward.value(), 0.85 * quantized + 0.15 * high, 1e-12);
}

TEST(Elementwise, EagerMovesTheBytesOfTheReferenceCode) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const AcceleratorSpec hw = testing::hw("h100-sxm");
  Deployment fused;
  Deployment eager;
  eager.fused_elementwise = false;
  const PassCost f = layer_pass(m, hw, fused);
  const PassCost e = layer_pass(m, hw, eager);
  const double hidden = 2.0 * 8192.0 * m.hidden;
  const auto norm = static_cast<std::size_t>(OpKind::kNorm);
  const auto residual = static_cast<std::size_t>(OpKind::kResidual);
  const auto activation = static_cast<std::size_t>(OpKind::kActivation);
  // Two norms: fused 8 B per element (residual add included), eager 36 B in 8 kernels each.
  EXPECT_NEAR(f.by_op[norm].bytes.value(), 2.0 * 8.0 * hidden, 1.0);
  EXPECT_NEAR(e.by_op[norm].bytes.value(), 2.0 * 36.0 * hidden, 1.0);
  EXPECT_EQ(e.by_op[norm].kernels, 16);
  EXPECT_EQ(f.by_op[residual].kernels, 0);
  EXPECT_NEAR(e.by_op[residual].bytes.value(), 2.0 * 6.0 * hidden, 1.0);
  EXPECT_NEAR(e.by_op[activation].bytes.value() / f.by_op[activation].bytes.value(), 10.0 / 6.0,
              1e-12);
  EXPECT_GT(e.time.value(), f.time.value());
  // The GEMMs do not change.
  const auto up = static_cast<std::size_t>(OpKind::kMlpUp);
  EXPECT_EQ(e.by_op[up].time.value(), f.by_op[up].time.value());
}

TEST(Elementwise, EagerCrossEntropyUpcastsTheLogits) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const AcceleratorSpec hw = testing::hw("h100-sxm");
  Deployment eager;
  eager.fused_elementwise = false;
  const auto loss = static_cast<std::size_t>(OpKind::kLoss);
  const PassShape shape{1, 8192, 0};
  const double logits = 8192.0 * static_cast<double>(m.vocab);
  EXPECT_NEAR(cost_embedding_and_head_forward(m, hw, Deployment{}, shape).by_op[loss].bytes.value(),
              2.0 * logits, 1.0);
  EXPECT_NEAR(cost_embedding_and_head_forward(m, hw, eager, shape).by_op[loss].bytes.value(),
              14.0 * logits, 1.0);
}

TEST(Recompute, PerOpSacRepeatsEverySecondMatmulAndTheElementwiseOps) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = system("dgx-h100-superpod", 1);
  TrainingJob j = job(PrecisionRecipe::kBf16);
  ParallelPlan p = fsdp8();
  const MicroBatchCost costs = micro_batch_cost(m, s, j, p);
  p.recompute = Recompute::kSelective;
  const double core = evaluate_training(m, s, j, p).breakdown.recompute.value();
  EXPECT_EQ(core, 0.0);  // Megatron's selective: nothing stored to repeat with FlashAttention
  j.selective_recompute = SelectiveRecompute::kPerOp;
  const TrainingResult per_op = evaluate_training(m, s, j, p);
  p.recompute = Recompute::kFull;
  const TrainingResult full = evaluate_training(m, s, j, p);
  EXPECT_GT(per_op.breakdown.recompute.value(), 0.0);
  EXPECT_LT(per_op.breakdown.recompute.value(), full.breakdown.recompute.value());
  // wk, wo and w3 of Llama 3.1 8B: (1024 + 4096 + 14336) / (4096 + 2 x 1024 + 4096 + 3 x 14336).
  const double share = (1024.0 + 4096.0 + 14336.0) / (4096.0 + 2048.0 + 4096.0 + 3.0 * 14336.0);
  const MicroBatchCost sac = micro_batch_cost(m, s, j, p);
  EXPECT_NEAR(sac.layer.per_op_recompute_gemm.value(), costs.layer.gemm_forward.value() * share,
              1e-12);
  // It keeps less than everything, more than a full recomputation's layer input.
  p.recompute = Recompute::kSelective;
  const double kept = layer_activation_bytes(m, j, p).value();
  p.recompute = Recompute::kNone;
  EXPECT_LT(kept, layer_activation_bytes(m, j, p).value());
}

TEST(Stack, FillsTheJobAndRefusesRecipesItLacks) {
  const AcceleratorSpec h100 = testing::hw("h100-sxm");
  const TrainingJob eager =
      apply_stack(job(PrecisionRecipe::kBf16), stack("torchtitan-2024-12-eager"), h100);
  EXPECT_EQ(eager.stack, "torchtitan-2024-12-eager");
  EXPECT_FALSE(eager.fused_elementwise);
  EXPECT_EQ(eager.attention, AttentionKernel::kFlash2);
  EXPECT_EQ(eager.selective_recompute, SelectiveRecompute::kPerOp);
  EXPECT_EQ(eager.weight_quantization, WeightQuantization::kPerMicroBatch);
  EXPECT_DOUBLE_EQ(eager.host_overhead_per_layer.value(), 9.0e-4);
  EXPECT_FALSE(stack_problem(eager).has_value());

  TrainingJob mx = eager;
  mx.recipe = PrecisionRecipe::kMxfp8;
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = system("dgx-h100-superpod", 1);
  EXPECT_EQ(plan_problem(m, s, mx, fsdp8()),
            "stack torchtitan-2024-12-eager does not support recipe mxfp8 (it supports bf16, "
            "fp8-current)");
  // A stack without kernels for the chip's family is a plan problem too, never a crash.
  const TrainingJob tpu =
      apply_stack(job(PrecisionRecipe::kBf16), stack("nemo-24.07"), testing::hw("tpu-v5p"));
  EXPECT_EQ(stack_problem(tpu), "stack nemo-24.07 has no kernels for tpu-v5p (google_tpu)");
}

TEST(Stack, EagerStacksTrainSlowerThanCompiledOnes) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = system("dgx-h100-superpod", 1);
  const AcceleratorSpec& hw = s.accelerator;
  const TrainingJob eager =
      apply_stack(job(PrecisionRecipe::kBf16), stack("torchtitan-2024-12-eager"), hw);
  const TrainingJob compiled =
      apply_stack(job(PrecisionRecipe::kBf16), stack("torchtitan-2024-12-compile"), hw);
  EXPECT_GT(evaluate_training(m, s, eager, fsdp8()).step_time.value(),
            evaluate_training(m, s, compiled, fsdp8()).step_time.value());
}

TEST(Stack, ALayerShorterThanItsHostLaunchesIsLaunchBound) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = system("dgx-h100-superpod", 1);
  TrainingJob j = job(PrecisionRecipe::kBf16);
  const TrainingResult gpu_bound = evaluate_training(m, s, j, fsdp8());
  const std::vector<ChunkTime> chunks =
      chunk_times(m, s, j, fsdp8(), micro_batch_cost(m, s, j, fsdp8()));
  j.host_overhead_per_layer = Seconds(1.0);  // far beyond any layer's GPU time
  const std::vector<ChunkTime> bound =
      chunk_times(m, s, j, fsdp8(), micro_batch_cost(m, s, j, fsdp8()));
  // Each of the 32 layers now takes the host's second, forward and backward together.
  EXPECT_GT(bound[0].forward.value() + bound[0].backward.value(), 32.0);
  EXPECT_LT(chunks[0].forward.value() + chunks[0].backward.value(), 32.0);
  EXPECT_GT(evaluate_training(m, s, j, fsdp8()).step_time.value(), gpu_bound.step_time.value());
}

}  // namespace
}  // namespace xpusim
