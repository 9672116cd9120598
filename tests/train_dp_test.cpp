// Data parallelism as frameworks run it: FSDP / ZeRO-3 per layer (gathers per micro-batch,
// reshard-after-forward, per-micro-batch or per-step reduce-scatters, prefetch, contention with
// compute), the distributed optimizer's schedule, and the memory of sharded states.

#include <gtest/gtest.h>

#include "test_files.hpp"
#include "test_support.hpp"
#include "xpusim/system/system.hpp"
#include "xpusim/train/training.hpp"

namespace xpusim {
namespace {

SystemSpec system(const std::string& id, int nodes) {
  return with_nodes(load_system(id, testing::data_dir() / "systems", testing::hardware_dir()),
                    nodes);
}

/// FSDP2 as torchtitan runs it (data/stacks/torchtitan-2025-06.yaml).
TrainingJob fsdp_job(int64_t global_batch, int64_t seq_len) {
  TrainingJob j;
  j.global_batch = global_batch;
  j.seq_len = seq_len;
  j.data_parallel.sharding = Sharding::kFsdp;
  j.data_parallel.reshard_after_forward = true;
  j.data_parallel.gradient_reduce = GradientReduce::kPerMicroBatch;
  j.data_parallel.reduce_dtype = DType::kFp32;
  j.data_parallel.prefetch_layers = 1;
  return j;
}

ParallelPlan fsdp_plan(int dp, int64_t micro_batch) {
  ParallelPlan p;
  p.dp = dp;
  p.micro_batch = micro_batch;
  p.zero_stage = 3;
  return p;
}

/// A scale-out network `factor` times slower than the system's.
SystemSpec slower_network(SystemSpec s, double factor) {
  s.scale_out.bandwidth = s.scale_out.bandwidth / factor;
  return s;
}

Seconds dp_comm(const ModelSpec& m, const SystemSpec& s, const TrainingJob& j,
                const ParallelPlan& p) {
  EXPECT_FALSE(plan_problem(m, s, j, p).has_value()) << *plan_problem(m, s, j, p);
  return evaluate_training(m, s, j, p).breakdown.dp_comm;
}

TEST(Fsdp, ASlowFabricExposesTheGathersAndReduceScatters) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec fast = system("meta-grand-teton-h100", 4);
  const TrainingJob j = fsdp_job(64, 8192);
  const ParallelPlan p = fsdp_plan(32, 2);
  const Seconds hidden = dp_comm(m, fast, j, p);
  const Seconds exposed = dp_comm(m, slower_network(fast, 20.0), j, p);
  EXPECT_GT(exposed.value(), 5.0 * hidden.value());
  // Comm-bound: every layer waits for its gathers, one step's worth of them per micro-batch.
  const TrainingResult slow = evaluate_training(m, slower_network(fast, 20.0), j, p);
  EXPECT_GT(slow.breakdown.dp_comm.value(), 0.2 * slow.step_time.value());
}

TEST(Fsdp, ReshardAfterForwardGathersAgainForTheBackward) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = slower_network(system("meta-grand-teton-h100", 4), 20.0);
  TrainingJob j = fsdp_job(64, 8192);
  const ParallelPlan p = fsdp_plan(32, 1);
  const Seconds resharded = dp_comm(m, s, j, p);
  j.data_parallel.reshard_after_forward = false;
  const Seconds kept = dp_comm(m, s, j, p);
  EXPECT_GT(resharded.value(), kept.value() * 1.1);
}

TEST(Fsdp, PerMicroBatchReduceScattersGrowWithTheMicroBatchCount) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = slower_network(system("meta-grand-teton-h100", 4), 20.0);
  TrainingJob j = fsdp_job(128, 4096);
  const ParallelPlan two = fsdp_plan(32, 2);  // 2 micro-batches
  const ParallelPlan one = fsdp_plan(32, 4);  // 1 micro-batch, the same tokens
  const Seconds many = dp_comm(m, s, j, two);
  const Seconds few = dp_comm(m, s, j, one);
  EXPECT_GT(many.value(), 1.5 * few.value());
  // Reduced once per step, the extra micro-batch adds its gathers but not its reduce-scatters.
  j.data_parallel.gradient_reduce = GradientReduce::kPerStep;
  const Seconds per_step = dp_comm(m, s, j, two);
  EXPECT_LT(per_step.value(), many.value());
  EXPECT_GT(per_step.value(), few.value());
}

TEST(Fsdp, AFp32ReductionMovesTwiceTheBytesOfBf16) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = slower_network(system("meta-grand-teton-h100", 4), 20.0);
  TrainingJob j = fsdp_job(64, 8192);
  j.data_parallel.reshard_after_forward = false;
  const ParallelPlan p = fsdp_plan(32, 2);
  const Seconds fp32 = dp_comm(m, s, j, p);
  j.data_parallel.reduce_dtype = DType::kBf16;
  const Seconds bf16 = dp_comm(m, s, j, p);
  EXPECT_GT(fp32.value(), 1.2 * bf16.value());
}

TEST(Fsdp, Fp8AllGathersMoveHalfTheBytesUnderTensorwiseFp8Only) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = slower_network(system("meta-grand-teton-h100", 4), 20.0);
  TrainingJob j = fsdp_job(64, 8192);
  j.data_parallel.reshard_after_forward = false;
  j.data_parallel.reduce_dtype = DType::kBf16;
  j.recipe = PrecisionRecipe::kFp8Current;
  const ParallelPlan p = fsdp_plan(32, 2);
  const Seconds bf16 = dp_comm(m, s, j, p);
  j.data_parallel.fp8_all_gather = true;
  const Seconds fp8 = dp_comm(m, s, j, p);
  EXPECT_LT(fp8.value(), 0.85 * bf16.value());
  // MXFP8 has its own block scales: torchao gathers those weights in bf16.
  j.recipe = PrecisionRecipe::kMxfp8;
  const Seconds mx = dp_comm(m, s, j, p);
  j.data_parallel.fp8_all_gather = false;
  EXPECT_DOUBLE_EQ(mx.value(), dp_comm(m, s, j, p).value());
}

TEST(Fsdp, PrefetchHidesGathersThatWaitWithoutIt) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = system("meta-grand-teton-h100", 4);
  TrainingJob j = fsdp_job(64, 8192);
  const ParallelPlan p = fsdp_plan(32, 2);
  const Seconds prefetched = dp_comm(m, s, j, p);
  j.data_parallel.prefetch_layers = 0;
  const Seconds on_demand = dp_comm(m, s, j, p);
  EXPECT_GT(on_demand.value(), 3.0 * prefetched.value());
  // Deeper prefetch cannot beat one serial communication stream, but never hurts the step.
  j.data_parallel.prefetch_layers = 2;
  EXPECT_LE(dp_comm(m, s, j, p).value(), prefetched.value() + 1e-12);
}

TEST(Fsdp, OverlappedCollectivesSlowTheComputeTheyHideUnder) {
  // Hidden collectives still cost the compute share their kernels hold (24 of 132 SMs on H100):
  // FSDP exposes more than its first gathers and last reduce-scatters even when compute-bound.
  // A chip that moves collectives with DMA engines (a TPU's vendor) pays only those edges.
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = system("meta-grand-teton-h100", 1);
  SystemSpec dma = s;
  dma.accelerator.vendor = "Google";
  const TrainingJob j = fsdp_job(16, 8192);
  const ParallelPlan p = fsdp_plan(8, 2);
  const Seconds contended = dp_comm(m, s, j, p);
  const Seconds edges = dp_comm(m, dma, j, p);
  EXPECT_GT(edges.value(), 0.0);
  EXPECT_GT(contended.value(), 2.0 * edges.value());
}

TEST(Fsdp, ShardedStatesFallAsOneOverDp) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const TrainingJob j = fsdp_job(256, 4096);
  const SystemSpec s8 = system("meta-grand-teton-h100", 1);
  const SystemSpec s32 = system("meta-grand-teton-h100", 4);
  const TrainingMemory a = evaluate_training(m, s8, j, fsdp_plan(8, 1)).memory;
  const TrainingMemory b = evaluate_training(m, s32, j, fsdp_plan(32, 1)).memory;
  EXPECT_NEAR(b.weights.value() * 4.0, a.weights.value(), 1e-6 * a.weights.value());
  EXPECT_NEAR(b.gradients.value() * 4.0, a.gradients.value(), 1e-6 * a.gradients.value());
  EXPECT_NEAR(b.optimizer_states.value() * 4.0, a.optimizer_states.value(),
              1e-6 * a.optimizer_states.value());
  // The gathered layers (in use and prefetched) do not shrink with dp.
  EXPECT_DOUBLE_EQ(a.comm_buffers.value(), b.comm_buffers.value());
}

TEST(Fsdp, DeeperPrefetchHoldsMoreGatheredLayers) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = system("meta-grand-teton-h100", 1);
  TrainingJob j = fsdp_job(16, 8192);
  const ParallelPlan p = fsdp_plan(8, 2);
  const Bytes one = evaluate_training(m, s, j, p).memory.comm_buffers;
  j.data_parallel.prefetch_layers = 2;
  const Bytes two = evaluate_training(m, s, j, p).memory.comm_buffers;
  // One more bf16 layer: 2 bytes per parameter of a layer.
  const double layer =
      2.0 *
      static_cast<double>(count_parameters(m).total - count_parameters(m).embedding -
                          count_parameters(m).lm_head) /
      static_cast<double>(m.layers);
  EXPECT_NEAR((two - one).value(), layer, 1e-6 * layer);
}

TEST(Fsdp, PerStepReductionKeepsUnshardedGradientsOverMicroBatches) {
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = system("meta-grand-teton-h100", 1);
  TrainingJob j = fsdp_job(32, 4096);
  const ParallelPlan p = fsdp_plan(8, 1);  // 4 micro-batches
  const Bytes sharded = evaluate_training(m, s, j, p).memory.gradients;
  j.data_parallel.gradient_reduce = GradientReduce::kPerStep;
  const Bytes kept = evaluate_training(m, s, j, p).memory.gradients;
  EXPECT_NEAR(kept.value(), 8.0 * sharded.value(), 1e-6 * kept.value());
}

TEST(DistributedOptimizer, GathersHideUnderTheForwardAndReduceScattersUnderTheBackward) {
  // Megatron's distributed optimizer moves an all-reduce's volume, split over two passes: it
  // never exposes more than DDP's one all-reduce under the backward.
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = slower_network(system("dgx-h100-superpod", 4), 10.0);
  TrainingJob j;
  j.global_batch = 32;
  j.seq_len = 4096;
  ParallelPlan p;
  p.dp = 32;
  p.micro_batch = 1;
  const Seconds ddp = dp_comm(m, s, j, p);
  p.zero_stage = 1;
  const Seconds distributed = dp_comm(m, s, j, p);
  EXPECT_LT(distributed.value(), ddp.value());
  j.overlap_dp_comm = false;
  // Unoverlapped, both move the same volume: the reduce-scatter and all-gather of a ring are an
  // all-reduce's two halves.
  const Seconds serial = dp_comm(m, s, j, p);
  p.zero_stage = 0;
  EXPECT_NEAR(serial.value(), dp_comm(m, s, j, p).value(), 0.05 * serial.value());
}

}  // namespace
}  // namespace xpusim
