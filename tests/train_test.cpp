#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "test_support.hpp"
#include "xpusim/cost/operators.hpp"
#include "xpusim/report/training_report.hpp"
#include "xpusim/system/system.hpp"
#include "xpusim/train/schedule.hpp"
#include "xpusim/train/search.hpp"
#include "xpusim/train/training.hpp"

namespace xpusim {
namespace {

SystemSpec system(const std::string& id, int nodes) {
  return with_nodes(load_system(id, testing::data_dir() / "systems", testing::hardware_dir()),
                    nodes);
}

TrainingJob job(int64_t global_batch, int64_t seq_len) {
  TrainingJob j;
  j.global_batch = global_batch;
  j.seq_len = seq_len;
  return j;
}

ParallelPlan plan(int tp, int pp, int dp, int64_t mb) {
  ParallelPlan p;
  p.tp = tp;
  p.pp = pp;
  p.dp = dp;
  p.micro_batch = mb;
  return p;
}

TEST(Training, OneDeviceMatchesTheCoreOperatorModel) {
  const ModelSpec m = testing::model("llama-2-7b");
  const SystemSpec s = system("dgx-h100-superpod", 1);
  SystemSpec one = s;
  one.devices_per_node = 1;
  one.nodes = 1;
  const TrainingJob j = job(1, 2048);
  const ParallelPlan p = plan(1, 1, 1, 1);
  ASSERT_FALSE(plan_problem(m, one, j, p).has_value());
  const TrainingResult r = evaluate_training(m, one, j, p);
  Deployment d;
  const PassShape shape{1, 2048, 0};
  const Seconds layers = cost_layer_forward(m, one.accelerator, d, shape, false, false).time * 32.0;
  const Seconds head = cost_embedding_and_head_forward(m, one.accelerator, d, shape).time;
  EXPECT_NEAR(r.breakdown.forward.value(), (layers + head).value(), 1e-12);
  // The core's inference pass over the same tokens has the same layers (logits aside).
  const PassCost core = cost_pass(m, one.accelerator, d, shape);
  const auto lm_head = static_cast<std::size_t>(OpKind::kLmHead);
  EXPECT_NEAR((core.time - core.by_op[lm_head].time).value(),
              (layers + head -
               cost_embedding_and_head_forward(m, one.accelerator, d, shape).by_op[lm_head].time)
                  .value(),
              1e-9);
  EXPECT_EQ(r.breakdown.tp_comm.value(), 0.0);
  EXPECT_EQ(r.breakdown.dp_comm.value(), 0.0);
  EXPECT_EQ(r.breakdown.pipeline_bubble.value(), 0.0);
  EXPECT_EQ(r.breakdown.pp_comm.value(), 0.0);
}

TEST(Training, ThroughputAndUtilizationFollowTheirDefinitions) {
  const ModelSpec m = testing::model("llama-2-70b");
  const SystemSpec s = system("dgx-h100-superpod", 8);
  const TrainingJob j = job(256, 4096);
  ParallelPlan p = plan(8, 4, 2, 1);
  p.recompute = Recompute::kFull;
  ASSERT_FALSE(plan_problem(m, s, j, p).has_value());
  const TrainingResult r = evaluate_training(m, s, j, p);
  EXPECT_NEAR(r.tokens_per_s, 256.0 * 4096 / r.step_time.value(), 1e-6);
  const double peak = s.accelerator.peak(DType::kBf16)->value();
  // PaLM: 6N + 12 L H Q T per token.
  const ParameterCount n = count_parameters(m);
  const double matmul = static_cast<double>(n.total - n.embedding) - (80.0 * 2 + 1) * 8192;
  const double per_token = 6.0 * matmul + 12.0 * 80 * 64 * 128 * 4096;
  EXPECT_NEAR(r.model_flops_per_step / (per_token * 256 * 4096), 1.0, 1e-9);
  EXPECT_NEAR(r.mfu, r.model_flops_per_step / (r.step_time.value() * 64 * peak), 1e-12);
  EXPECT_NEAR(r.hfu / r.mfu, 4.0 / 3.0, 1e-9);  // full recomputation repeats the forward
  EXPECT_LT(r.mfu, 1.0);
}

TEST(Training, MemoryFallsAsZeroStageOrRecomputationRises) {
  const ModelSpec m = testing::model("llama-2-70b");
  const SystemSpec s = system("dgx-h100-superpod", 8);
  const TrainingJob j = job(256, 4096);
  ParallelPlan p = plan(8, 2, 4, 1);
  double previous = 1e30;
  for (int zero = 0; zero <= 3; ++zero) {
    p.zero_stage = zero;
    const double bytes = evaluate_training(m, s, j, p).memory.total().value();
    EXPECT_LT(bytes, previous) << "ZeRO " << zero;
    previous = bytes;
  }
  p.zero_stage = 0;
  previous = 1e30;
  for (Recompute rc : {Recompute::kNone, Recompute::kSelective, Recompute::kFull}) {
    p.recompute = rc;
    const double bytes = evaluate_training(m, s, j, p).memory.total().value();
    EXPECT_LE(bytes, previous) << to_string(rc);
    previous = bytes;
  }
}

TEST(Training, KorthikantiActivationFormulaForGpt) {
  // 34 s b h + 5 a s^2 b bytes per layer without parallelism; with tp and sequence
  // parallelism s b h (34 / t + 5 a s / (h t)); selective recomputation drops the s^2 term.
  const ModelSpec m =
      load_model_file(testing::data_dir() / "validation/models/megatron-gpt-18.4b.json");
  TrainingJob j = job(8, 2048);
  j.fused_attention = false;
  ParallelPlan p = plan(1, 1, 1, 2);
  const double s = 2048, b = 2, h = 6144, a = 48;
  EXPECT_NEAR(layer_activation_bytes(m, j, p).value(), s * b * h * 34 + 5 * a * s * s * b, 1.0);
  p.tp = 8;
  p.sequence_parallel = true;
  EXPECT_NEAR(layer_activation_bytes(m, j, p).value(), s * b * h * (34.0 / 8 + 5 * a * s / (h * 8)),
              1.0);
  p.sequence_parallel = false;
  EXPECT_NEAR(layer_activation_bytes(m, j, p).value(),
              s * b * h * (10 + 24.0 / 8 + 5 * a * s / (h * 8)), 1.0);
  p.recompute = Recompute::kSelective;
  EXPECT_NEAR(layer_activation_bytes(m, j, p).value(), s * b * h * (10 + 24.0 / 8), 1.0);
}

SystemSpec ideal_network(SystemSpec s) {
  s.scale_out.bandwidth = BytesPerSecond(1e18);
  s.scale_out.latency = Seconds(0.0);
  return s;
}

TEST(Training, ALargerPipelineBubbleNeverSpeedsUpAStep) {
  const ModelSpec m = testing::model("llama-2-70b");
  const SystemSpec s = ideal_network(system("dgx-h100-superpod", 8));
  const TrainingJob j = job(64, 4096);
  ParallelPlan p = plan(8, 8, 1, 1);
  std::map<double, double> step_by_bubble;
  for (int vpp : {1, 2, 5, 10}) {
    p.vpp = vpp;
    ASSERT_FALSE(plan_problem(m, s, j, p).has_value()) << *plan_problem(m, s, j, p);
    const TrainingResult r = evaluate_training(m, s, j, p);
    step_by_bubble[r.breakdown.pipeline_bubble.value()] = r.step_time.value();
  }
  double previous = 0.0;
  for (const auto& [bubble, step] : step_by_bubble) {
    EXPECT_GE(step, previous) << "bubble " << bubble;
    previous = step;
  }
}

TEST(Training, MoreScaleOutBandwidthNeverSlowsAStep) {
  const ModelSpec m = testing::model("llama-2-70b");
  const SystemSpec s = system("dgx-h100-superpod", 8);
  const TrainingJob j = job(128, 4096);
  for (const ParallelPlan& p : {plan(8, 2, 4, 1), plan(4, 4, 4, 2), plan(8, 1, 8, 1)}) {
    double previous = 1e30;
    for (double k : {0.25, 1.0, 4.0, 16.0}) {
      SystemSpec faster = s;
      faster.scale_out.bandwidth = s.scale_out.bandwidth * k;
      const double step = evaluate_training(m, faster, j, p).step_time.value();
      EXPECT_LE(step, previous) << "x" << k;
      previous = step;
    }
  }
}

TEST(Training, PlanProblemsAreNamed) {
  const ModelSpec m = testing::model("llama-2-70b");
  const SystemSpec s = system("dgx-h100-superpod", 8);
  const TrainingJob j = job(256, 4096);
  EXPECT_EQ(*plan_problem(m, s, j, plan(8, 3, 3, 1)),
            "tp x pp x cp x dp = 8 x 3 x 1 x 3 must equal the 64 devices");
  EXPECT_EQ(*plan_problem(m, s, j, plan(16, 1, 4, 1)),
            "tp 16 exceeds the scale-up domain of 8 devices");
  EXPECT_EQ(*plan_problem(m, s, j, plan(8, 8, 1, 3)),
            "the global batch 256 does not split into dp 1 x micro-batches of 3");
  ParallelPlan p = plan(8, 8, 1, 1);
  p.vpp = 3;
  EXPECT_EQ(*plan_problem(m, s, j, p), "pp x vpp = 24 does not divide the 80 layers");
}

TEST(PipelineSchedule, OneFOneBLastsMPlusPMinusOneSlots) {
  for (int pp : {1, 2, 4, 8}) {
    for (int64_t m : {int64_t{1}, int64_t{8}, int64_t{32}}) {
      const PipelineSchedule s =
          simulate_pipeline(pp, 1, m, Seconds(1.0), Seconds(2.0), Seconds(0.0));
      EXPECT_NEAR(s.length.value(), static_cast<double>(m + pp - 1) * 3.0, 1e-9) << pp << " " << m;
      EXPECT_EQ(s.ops.size(), static_cast<std::size_t>(2 * m * pp));
    }
  }
}

TEST(PipelineSchedule, InterleavingShrinksTheBubble) {
  const int pp = 4;
  const int64_t m = 16;
  const double work = static_cast<double>(m) * 3.0;  // F + B per micro-batch, per stage
  for (int vpp : {2, 4}) {
    const PipelineSchedule s =
        simulate_pipeline(pp, vpp, m, Seconds(1.0 / vpp), Seconds(2.0 / vpp), Seconds(0.0));
    const double bubble = s.length.value() - work;
    EXPECT_LT(bubble, (pp - 1) * 3.0) << vpp;                     // below the 1F1B bubble
    EXPECT_NEAR(bubble, (pp - 1) * 3.0 / vpp, 0.5 * 3.0) << vpp;  // near (p - 1) / v slots
  }
}

TEST(Trace, ChromeTraceHasLanesWithoutOverlapAndTheStepsLength) {
  const ModelSpec m = testing::model("llama-2-70b");
  const SystemSpec s = system("dgx-h100-superpod", 8);
  const TrainingJob j = job(64, 4096);
  ParallelPlan p = plan(8, 4, 2, 1);
  p.vpp = 2;
  const TrainingResult r = evaluate_training(m, s, j, p);
  const nlohmann::json trace = training_trace(m, s, j, p, r);
  ASSERT_TRUE(trace.contains("traceEvents"));
  std::map<std::pair<int, int>, std::vector<std::pair<double, double>>> lanes;
  double end = 0.0;
  for (const auto& e : trace["traceEvents"]) {
    ASSERT_TRUE(e.contains("ph") && e.contains("pid") && e.contains("name"));
    if (e["ph"] != "X") continue;
    for (const char* key : {"ts", "dur", "tid", "cat"}) ASSERT_TRUE(e.contains(key)) << key;
    const double ts = e["ts"], dur = e["dur"];
    EXPECT_GE(dur, 0.0);
    lanes[{e["pid"].get<int>(), e["tid"].get<int>()}].push_back({ts, ts + dur});
    end = std::max(end, ts + dur);
  }
  EXPECT_EQ(lanes.size(), static_cast<std::size_t>(2 * p.pp));
  for (auto& [lane, spans] : lanes) {
    std::sort(spans.begin(), spans.end());
    for (std::size_t i = 1; i < spans.size(); ++i) {
      EXPECT_LE(spans[i - 1].second, spans[i].first + 1e-6)
          << "overlap in lane " << lane.first << "/" << lane.second;
    }
  }
  EXPECT_NEAR(end / 1e6, r.step_time.value(), 0.05 * r.step_time.value());
}

TEST(Search, FindsFittingPlansBestFirstAndBeatsAHandPickedOne) {
  const ModelSpec m = testing::model("llama-2-70b");
  const SystemSpec s = system("dgx-h100-superpod", 4);
  const TrainingJob j = job(64, 4096);
  SearchOptions o;
  o.top_k = 5;
  const SearchResult r = search_training(m, s, j, o);
  ASSERT_FALSE(r.best.empty());
  EXPECT_GT(r.evaluated, 1000);
  EXPECT_GE(r.evaluated, r.fitting);
  for (std::size_t i = 0; i < r.best.size(); ++i) {
    EXPECT_TRUE(r.best[i].result.fits);
    EXPECT_FALSE(plan_problem(m, s, j, r.best[i].plan).has_value());
    if (i > 0) {
      EXPECT_LE(r.best[i - 1].result.step_time, r.best[i].result.step_time);
    }
  }
  ParallelPlan hand = plan(8, 2, 2, 1);
  hand.recompute = Recompute::kFull;
  const TrainingResult manual = evaluate_training(m, s, j, hand);
  ASSERT_TRUE(manual.fits);
  EXPECT_LE(r.best.front().result.step_time, manual.step_time);
  // Same answer on one thread as on every core.
  o.threads = 1;
  const SearchResult serial = search_training(m, s, j, o);
  EXPECT_EQ(serial.evaluated, r.evaluated);
  EXPECT_EQ(serial.best.front().result.step_time, r.best.front().result.step_time);
}

}  // namespace
}  // namespace xpusim
