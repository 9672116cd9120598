// MoE layers as they run: router, token permutation, grouped expert GEMMs at the busiest rank's
// load, the expert-parallel exchange by dispatcher, and the dispatcher's host synchronisation.

#include <gtest/gtest.h>

#include "test_files.hpp"
#include "test_support.hpp"
#include "xpusim/cost/operators.hpp"
#include "xpusim/system/system.hpp"
#include "xpusim/train/training.hpp"

namespace xpusim {
namespace {

SystemSpec system(const std::string& id, int nodes) {
  return with_nodes(load_system(id, testing::data_dir() / "systems", testing::hardware_dir()),
                    nodes);
}

Seconds op(const PassCost& pass, OpKind kind) {
  return pass.by_op[static_cast<std::size_t>(kind)].time;
}

Seconds experts(const PassCost& pass) {
  return op(pass, OpKind::kExpertsUp) + op(pass, OpKind::kExpertsDown);
}

TEST(MoeLayer, ImbalanceSlowsTheExpertGemmsOfTheBusiestRank) {
  const ModelSpec m = testing::model("qwen3-30b-a3b");
  const AcceleratorSpec hw = testing::hw("h100-sxm");
  Deployment d;
  d.expert_parallel = 8;
  const PassShape shape{4, 4096, 0};
  const PassCost balanced = cost_layer_forward(m, hw, d, shape, false, true);
  d.expert_load_imbalance = 1.5;
  const PassCost skewed = cost_layer_forward(m, hw, d, shape, false, true);
  EXPECT_NEAR(experts(skewed).value() / experts(balanced).value(), 1.5, 0.08);
  // The router sees every token once whatever the routing.
  EXPECT_DOUBLE_EQ(op(skewed, OpKind::kRouter).value(), op(balanced, OpKind::kRouter).value());
}

TEST(MoeLayer, TokenPermutationIsMemoryBoundAndGrowsWithTopK) {
  const ModelSpec m = testing::model("qwen3-30b-a3b");
  const AcceleratorSpec hw = testing::hw("h100-sxm");
  Deployment d;
  const PassShape shape{1, 8192, 0};
  const PassCost pass = cost_layer_forward(m, hw, d, shape, false, true);
  const OpTotals& perm = pass.by_op[static_cast<std::size_t>(OpKind::kTokenPermutation)];
  // ep 1: permute (T H in, T k H out) and unpermute (the reverse), bf16.
  const double hidden = 8192.0 * static_cast<double>(m.hidden) * 2.0;
  const double k = static_cast<double>(m.moe->experts_per_token);
  EXPECT_NEAR(perm.bytes.value(), 2.0 * hidden * (1.0 + k), 1e-6 * perm.bytes.value());
  EXPECT_EQ(perm.kernels, 2);
  ModelSpec top2 = m;
  top2.moe->experts_per_token = 2;
  const PassCost fewer = cost_layer_forward(top2, hw, d, shape, false, true);
  EXPECT_LT(op(fewer, OpKind::kTokenPermutation).value(),
            0.5 * op(pass, OpKind::kTokenPermutation).value());
}

TrainingJob moe_job() {
  TrainingJob j;
  j.global_batch = 64;
  j.seq_len = 4096;
  return j;
}

ParallelPlan moe_plan() {
  ParallelPlan p;
  p.ep = 16;
  p.dp = 16;
  p.micro_batch = 1;
  p.zero_stage = 1;
  return p;
}

TEST(MoeTraining, ImbalanceSlowsTheExchangeOfTheBusiestReceiver) {
  const ModelSpec m = testing::model("qwen3-30b-a3b");
  const SystemSpec s = system("dgx-h100-superpod", 2);
  TrainingJob j = moe_job();
  const ParallelPlan p = moe_plan();
  ASSERT_FALSE(plan_problem(m, s, j, p).has_value());
  const TrainingResult balanced = evaluate_training(m, s, j, p);
  j.moe_load_imbalance = 1.5;
  const TrainingResult skewed = evaluate_training(m, s, j, p);
  // Bandwidth-bound across two nodes: about 1.5x the bytes, 1.5x the time.
  EXPECT_NEAR(skewed.breakdown.ep_comm.value() / balanced.breakdown.ep_comm.value(), 1.5, 0.1);
  EXPECT_GT(skewed.step_time.value(), balanced.step_time.value());
}

TEST(MoeTraining, HostSyncIsPaidOncePerMoeLayerAndMicroBatch) {
  const ModelSpec m = testing::model("qwen3-30b-a3b");
  const SystemSpec s = system("dgx-h100-superpod", 2);
  TrainingJob j = moe_job();
  const ParallelPlan p = moe_plan();
  const TrainingResult none = evaluate_training(m, s, j, p);
  j.moe_dispatch = MoeDispatchSpec{MoeDispatcher::kAllToAll, Seconds(50e-6)};
  const TrainingResult synced = evaluate_training(m, s, j, p);
  const double expected =
      50e-6 * static_cast<double>(m.moe_layers()) * static_cast<double>(synced.micro_batches);
  EXPECT_NEAR((synced.breakdown.ep_comm - none.breakdown.ep_comm).value(), expected,
              1e-9 + 1e-6 * expected);
  EXPECT_NEAR((synced.step_time - none.step_time).value(), expected, 1e-9 + 1e-6 * expected);
}

TEST(MoeTraining, AnAllGatherDispatcherMovesEveryRanksTokens) {
  // All-to-all sends each token's k copies whatever ep is; the all-gather dispatcher gathers the
  // tokens of all ep ranks and reduce-scatters them back, so its exchange grows with ep.
  const ModelSpec m = testing::model("qwen3-30b-a3b");
  const SystemSpec s = system("dgx-h100-superpod", 1);
  TrainingJob j = moe_job();
  ParallelPlan p = moe_plan();
  p.dp = 8;
  const auto exchange = [&](int ep) {
    p.ep = ep;
    EXPECT_FALSE(plan_problem(m, s, j, p).has_value());
    return evaluate_training(m, s, j, p).breakdown.ep_comm.value();
  };
  const double a2a = exchange(8) / exchange(2);
  j.moe_dispatch = MoeDispatchSpec{MoeDispatcher::kAllGather, Seconds(0.0)};
  const double gathered = exchange(8) / exchange(2);
  // Byte volumes grow 14/8 and 14/2 from ep 2 to 8; larger messages reach more of the bus
  // bandwidth, so the times grow somewhat less.
  EXPECT_NEAR(a2a, 14.0 / 8.0, 0.3);
  EXPECT_GT(gathered, 2.0 * a2a);
}

TEST(MoeTraining, SequenceParallelRanksExchangeTheirShareOfTheTokens) {
  // Under sp a tp rank dispatches T/tp tokens over the slow expert-parallel group and the tp
  // ranks gather the received tokens over their fast domain: less exposed than every tp rank
  // sending all T tokens when the ep group spans nodes.
  const ModelSpec m = testing::model("qwen3-30b-a3b");
  const SystemSpec s = system("dgx-h100-superpod", 4);
  TrainingJob j = moe_job();
  ParallelPlan p = moe_plan();
  p.tp = 2;
  p.dp = 16;
  p.sequence_parallel = true;
  ASSERT_FALSE(plan_problem(m, s, j, p).has_value()) << *plan_problem(m, s, j, p);
  const Seconds split = evaluate_training(m, s, j, p).breakdown.ep_comm;
  p.sequence_parallel = false;
  const Seconds replicated = evaluate_training(m, s, j, p).breakdown.ep_comm;
  EXPECT_LT(split.value(), 0.75 * replicated.value());
}

}  // namespace
}  // namespace xpusim
