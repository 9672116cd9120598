#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "test_files.hpp"
#include "test_support.hpp"
#include "xpusim/cost/operators.hpp"
#include "xpusim/report/training_report.hpp"
#include "xpusim/system/system.hpp"
#include "xpusim/train/schedule.hpp"
#include "xpusim/train/search.hpp"
#include "xpusim/train/training.hpp"

namespace xpusim {
namespace {

using testing::error_of;

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

// --- uneven pipeline stages ------------------------------------------------------------------

TEST(PipelineLayout, ParsesMegatronCoreLayoutStrings) {
  const auto layout = parse_pipeline_layout("Et*3|t*4|(t*4|)*2t*3L");
  ASSERT_EQ(layout.size(), 5u);
  EXPECT_EQ(layout[0], (ChunkSlots{3, true, false}));
  EXPECT_EQ(layout[1], (ChunkSlots{4, false, false}));
  EXPECT_EQ(layout[3], (ChunkSlots{4, false, false}));
  EXPECT_EQ(layout[4], (ChunkSlots{3, false, true}));
  EXPECT_EQ(to_string(layout), "Et*3|t*4|t*4|t*4|t*3L");
  EXPECT_EQ(parse_pipeline_layout("E, tt|tt, L"), parse_pipeline_layout("Et*2|t*2L"));
  EXPECT_EQ(error_of([] { (void)parse_pipeline_layout("Et*3|x"); }),
            "pipeline layout 'Et*3|x': at character 6: unexpected 'x'; expected E, t, m, L, |, (, "
            "), *n or ','");
  EXPECT_EQ(error_of([] { (void)parse_pipeline_layout("(t|t"); }),
            "pipeline layout '(t|t': at character 1: '(' is never closed");
  EXPECT_EQ(error_of([] { (void)parse_pipeline_layout("Et*|L"); }),
            "pipeline layout 'Et*|L': at character 3: '*' needs a count");
}

TEST(PipelineLayout, MtpModulesAreExtraLayersWithTheirOwnLossPass) {
  // DeepSeek-V3's Megatron-Bridge layout "Et|(tt|)*30mL": the MTP module rides on the last chunk.
  const auto layout = parse_pipeline_layout("Et|(tt|)*2mL");
  ASSERT_EQ(layout.size(), 4u);
  EXPECT_EQ(layout[3], (ChunkSlots{0, false, true, 1}));
  EXPECT_EQ(to_string(layout), "Et|t*2|t*2|mL");

  const ModelSpec m = testing::model("llama-2-70b");  // 80 layers
  ParallelPlan even = plan(8, 4, 1, 1);
  even.layout = parse_pipeline_layout("Et*20|t*20|t*20|t*20L");
  ParallelPlan mtp = even;
  mtp.layout = parse_pipeline_layout("Et*20|t*20|t*20|t*20mL");
  EXPECT_EQ(stage_load(m, mtp, 3).layers, 21);
  EXPECT_EQ(stage_load(m, mtp, 3).mtp_layers, 1);
  const SystemSpec s = system("dgx-a100-superpod", 4);
  const TrainingJob j = job(256, 2048);
  ASSERT_EQ(plan_problem(m, s, j, mtp), std::nullopt);
  const MicroBatchCost costs = micro_batch_cost(m, s, j, even);
  const auto plain = chunk_times(m, s, j, even, costs);
  const auto with_mtp = chunk_times(m, s, j, mtp, costs);
  // The last chunk pays one more layer and one more head: more than a layer's worth.
  const Seconds extra = with_mtp[3].forward - plain[3].forward;
  EXPECT_GT(extra, costs.layer.forward);
  EXPECT_EQ(with_mtp[0].forward, plain[0].forward);
  EXPECT_GT(evaluate_training(m, s, j, mtp).step_time, evaluate_training(m, s, j, even).step_time);
}

TEST(PipelineLayout, StagesHoldTheirChunksSlots) {
  const ModelSpec m = testing::model("llama-2-70b");  // 80 layers
  ParallelPlan p = plan(8, 4, 1, 1);
  p.first_stage_layers = 19;
  p.last_stage_layers = 19;
  EXPECT_EQ(stage_load(m, p, 0).layers, 19);
  EXPECT_EQ(stage_load(m, p, 1).layers, 21);
  EXPECT_EQ(stage_load(m, p, 3).layers, 19);
  EXPECT_TRUE(stage_load(m, p, 0).embedding);
  EXPECT_TRUE(stage_load(m, p, 3).loss);
  EXPECT_FALSE(stage_load(m, p, 1).embedding || stage_load(m, p, 1).loss);
  // A layout of 8 chunks on pp 4 x vpp 2: stage s holds chunks s and s + 4.
  ParallelPlan q = plan(8, 4, 1, 1);
  q.vpp = 2;
  q.layout = parse_pipeline_layout("Et*9|t*10|t*10|t*10|t*10|t*10|t*10|t*11L");
  EXPECT_EQ(stage_load(m, q, 0).layers, 19);
  EXPECT_EQ(stage_load(m, q, 3).layers, 21);
  EXPECT_TRUE(stage_load(m, q, 3).loss);
}

TEST(PipelineLayout, LayoutsNeedNotDivideTheLayersButMustBeWhole) {
  const ModelSpec m = testing::model("llama-2-70b");
  const SystemSpec s = system("dgx-h100-superpod", 3);
  const TrainingJob j = job(64, 4096);
  ParallelPlan p = plan(8, 3, 1, 1);  // 80 layers do not split over 3 stages
  EXPECT_EQ(plan_problem(m, s, j, p), "pp x vpp = 3 does not divide the 80 layers");
  p.first_stage_layers = 26;
  p.last_stage_layers = 26;
  EXPECT_EQ(plan_problem(m, s, j, p), std::nullopt);
  p.first_stage_layers = 60;
  EXPECT_EQ(plan_problem(m, s, j, p),
            "80 layers less 60 on the first and 26 on the last stage do not split evenly over the "
            "other 1 stages");
  p.first_stage_layers.reset();
  p.last_stage_layers.reset();
  p.layout = parse_pipeline_layout("Et*27|t*27|t*26L");
  EXPECT_EQ(plan_problem(m, s, j, p), std::nullopt);
  p.layout = parse_pipeline_layout("Et*27|t*27|t*26");
  EXPECT_EQ(plan_problem(m, s, j, p),
            "the pipeline layout needs one embedding 'E', in the first chunk, and one loss 'L', in "
            "the last");
  p.layout = parse_pipeline_layout("Et*27|t*26|t*25L");
  EXPECT_EQ(plan_problem(m, s, j, p), "the pipeline layout holds 78 layers; the model has 80");
  p.layout = parse_pipeline_layout("Et*40|t*40L");
  EXPECT_EQ(plan_problem(m, s, j, p), "the pipeline layout has 2 chunks; pp x vpp = 3 needs 3");
}

TEST(PipelineLayout, TheSlowestStageSetsTheStep) {
  const ModelSpec m = testing::model("llama-2-70b");
  const SystemSpec s = system("dgx-h100-superpod", 4);
  const TrainingJob j = job(64, 4096);
  ParallelPlan even = plan(8, 4, 1, 1);
  ParallelPlan heavy = even;  // two layers moved from stage 1 onto stage 2
  heavy.layout = parse_pipeline_layout("Et*20|t*18|t*22|t*20L");
  const TrainingResult a = evaluate_training(m, s, j, even);
  const TrainingResult b = evaluate_training(m, s, j, heavy);
  EXPECT_EQ(a.slowest_stage, 3);  // the LM head
  EXPECT_EQ(b.slowest_stage, 2);
  EXPECT_GT(b.step_time, a.step_time);
  // Its 22 layers run every micro-batch: forward scales with the slowest stage's layers.
  const MicroBatchCost c = micro_batch_cost(m, s, j, heavy);
  EXPECT_NEAR(b.breakdown.forward.value(),
              (c.layer.forward * 22.0).value() * static_cast<double>(b.micro_batches), 1e-9);
  // The parts still add up to the step.
  const StepBreakdown& d = b.breakdown;
  const Seconds parts = d.forward + d.backward + d.recompute + d.tp_comm + d.cp_comm + d.ep_comm +
                        d.pp_comm + d.pipeline_bubble + d.dp_comm + d.optimizer + d.offload;
  EXPECT_NEAR(parts.value(), b.step_time.value(), 1e-9 * b.step_time.value());
}

TEST(PipelineLayout, ALighterLastStageBalancesTheHeadAndALighterFirstStageItsMemory) {
  // Llama 3.1 8B: a 128k vocabulary makes the LM head about two layers' work.
  const ModelSpec m = testing::model("llama-3.1-8b");
  const SystemSpec s = system("dgx-h100-superpod", 1);
  const TrainingJob j = job(64, 4096);
  const ParallelPlan even = plan(1, 4, 2, 1);  // 8 | 8 | 8 | 8 + head
  ParallelPlan light_last = even;              // 9 | 9 | 9 | 5 + head
  light_last.last_stage_layers = 5;
  const TrainingResult a = evaluate_training(m, s, j, even);
  const TrainingResult b = evaluate_training(m, s, j, light_last);
  EXPECT_EQ(a.slowest_stage, 3);
  EXPECT_NE(b.slowest_stage, 3);
  EXPECT_LT(b.step_time, a.step_time);
  // The first stage holds pp micro-batches of activations in flight: the most memory.
  const ModelSpec big = testing::model("llama-2-70b");
  const SystemSpec s4 = system("dgx-h100-superpod", 4);
  const ParallelPlan even70 = plan(8, 4, 1, 1);  // 20 layers per stage
  const TrainingResult c = evaluate_training(big, s4, j, even70);
  EXPECT_EQ(c.memory.stage, 0);
  ParallelPlan light_first = even70;  // 17 | 21 | 21 | 21
  light_first.first_stage_layers = 17;
  const TrainingResult d = evaluate_training(big, s4, j, light_first);
  EXPECT_LT(d.memory.total(), c.memory.total());
  EXPECT_NE(d.memory.stage, 0);
}

TEST(PipelineSchedule, UnevenStagesMatchTheClosedForm) {
  // 1F1B: the slowest stage runs every micro-batch, the others fill and drain around it:
  // length = m t_max + sum of the other stages' t (exact when the last stage is the slowest).
  const int pp = 4;
  const int64_t m = 16;
  const std::vector<Seconds> forward = {Seconds(1.0), Seconds(1.1), Seconds(0.9), Seconds(1.4)};
  std::vector<Seconds> backward;
  double sum = 0.0, slowest = 0.0;
  for (const Seconds f : forward) {
    backward.push_back(f * 2.0);
    sum += 3.0 * f.value();
    slowest = std::max(slowest, 3.0 * f.value());
  }
  const PipelineSchedule s = simulate_pipeline(pp, 1, m, forward, backward, Seconds(0.0));
  EXPECT_NEAR(s.length.value(), static_cast<double>(m) * slowest + (sum - slowest), 1e-9);
}

TEST(PipelineSchedule, EvenChunksGiveTheSameScheduleEitherWay) {
  const PipelineSchedule a = simulate_pipeline(4, 2, 8, Seconds(1.0), Seconds(2.0), Seconds(0.1));
  const PipelineSchedule b = simulate_pipeline(4, 2, 8, std::vector<Seconds>(8, Seconds(1.0)),
                                               std::vector<Seconds>(8, Seconds(2.0)), Seconds(0.1));
  EXPECT_EQ(a.length, b.length);
  EXPECT_EQ(a.ops.size(), b.ops.size());
}

TEST(Trace, UnevenStagesLastAsLongAsTheStep) {
  const ModelSpec m = testing::model("llama-2-70b");
  const SystemSpec s = system("dgx-h100-superpod", 4);
  const TrainingJob j = job(64, 4096);
  for (int vpp : {1, 2}) {
    ParallelPlan p = plan(8, 4, 1, 1);
    p.vpp = vpp;
    p.layout = parse_pipeline_layout(vpp == 1 ? "Et*20|t*22|t*20|t*18L"
                                              : "Et*10|t*11|t*10|t*9|t*10|t*11|t*10|t*9L");
    const TrainingResult r = evaluate_training(m, s, j, p);
    const nlohmann::json trace = training_trace(m, s, j, p, r);
    double end = 0.0;
    for (const auto& e : trace["traceEvents"]) {
      if (e["ph"] == "X") end = std::max(end, e["ts"].get<double>() + e["dur"].get<double>());
    }
    EXPECT_NEAR(end / 1e6, r.step_time.value(), 0.03 * r.step_time.value()) << vpp;
  }
}

TEST(Search, ExploresLighterFirstAndLastStages) {
  const ModelSpec m = testing::model("llama-2-70b");  // 80 layers: pp 3 needs uneven stages
  const SystemSpec s = system("dgx-h100-superpod", 3);
  const TrainingJob j = job(48, 4096);
  SearchOptions o;
  o.top_k = 200;
  const SearchResult r = search_training(m, s, j, o);
  bool uneven = false;
  for (const auto& ranked : r.best) {
    EXPECT_FALSE(plan_problem(m, s, j, ranked.plan).has_value());
    uneven = uneven || ranked.plan.first_stage_layers || ranked.plan.last_stage_layers;
  }
  EXPECT_TRUE(uneven);
  o.uneven_stages = false;
  EXPECT_LT(search_training(m, s, j, o).evaluated, r.evaluated);
}

// --- CPU offload --------------------------------------------------------------------------------

TEST(Offload, OptimizerStatesMoveToTheHostAndStreamOverTheHostLink) {
  const ModelSpec m = testing::model("llama-2-7b");
  const SystemSpec s = system("dgx-h100-superpod", 1);
  const TrainingJob j = job(64, 4096);
  ParallelPlan p = plan(1, 1, 8, 1);
  p.zero_stage = 1;
  const TrainingResult base = evaluate_training(m, s, j, p);
  p.offload_optimizer = true;
  const TrainingResult off = evaluate_training(m, s, j, p);
  EXPECT_EQ(off.memory.optimizer_states, Bytes(0.0));
  EXPECT_NEAR(off.memory.host.value(), base.memory.optimizer_states.value(), 1.0);
  EXPECT_NEAR((base.memory.total() - off.memory.total()).value(),
              base.memory.optimizer_states.value(), 1.0);
  // 12 bytes of master weight and moments per owned parameter, each way, over PCIe 5.0 x16.
  const double link = s.accelerator.host_link_bandwidth->value();
  EXPECT_NEAR(off.breakdown.offload.value(), base.memory.optimizer_states.value() / link, 1e-9);
  EXPECT_NEAR((off.step_time - base.step_time).value(), off.breakdown.offload.value(), 1e-9);
}

TEST(Offload, ActivationsMoveToTheHostAndOnlyTheUnhiddenTransferCosts) {
  const ModelSpec m = testing::model("llama-2-7b");
  const SystemSpec s = system("dgx-h100-superpod", 1);
  const TrainingJob j = job(64, 4096);
  ParallelPlan p = plan(1, 1, 8, 2);
  const TrainingResult base = evaluate_training(m, s, j, p);
  p.offload_activations = true;
  const TrainingResult off = evaluate_training(m, s, j, p);
  EXPECT_LT(off.memory.activations, base.memory.activations * 0.2);
  EXPECT_NEAR((off.memory.host + off.memory.activations).value(), base.memory.activations.value(),
              1.0);
  // A layer's activations (~4.5 GB per layer at b = 2) take longer over 64 GB/s than its
  // compute: the rest is exposed.
  EXPECT_GT(off.breakdown.offload, Seconds(0.0));
  EXPECT_NEAR((off.step_time - base.step_time).value(), off.breakdown.offload.value(), 1e-9);
  // Full recomputation keeps only each layer's input: small enough to hide under compute.
  p.recompute = Recompute::kFull;
  EXPECT_EQ(evaluate_training(m, s, j, p).breakdown.offload, Seconds(0.0));
}

TEST(Offload, NeedsAHostLinkFigure) {
  const ModelSpec m = testing::model("llama-2-7b");
  const SystemSpec s = system("dgx-a100-superpod", 1);
  ParallelPlan p = plan(1, 1, 8, 1);
  p.offload_optimizer = true;
  EXPECT_EQ(plan_problem(m, s, job(64, 2048), p),
            "offloading to host memory needs a100-sxm-80gb's host-link bandwidth "
            "(host_link.bandwidth_bytes_per_s), which its file does not give");
}

// --- LoRA fine-tuning ------------------------------------------------------------------------

TEST(Lora, FrozenWeightsSkipTheirGradientGemmsStateAndReduction) {
  const ModelSpec m = testing::model("llama-2-70b");
  const SystemSpec s = system("dgx-h100-superpod", 1);
  TrainingJob full = job(64, 4096);
  TrainingJob lora = full;
  lora.lora_rank = 16;
  const ParallelPlan p = plan(8, 1, 1, 1);
  ASSERT_EQ(plan_problem(m, s, lora, p), std::nullopt);
  const TrainingResult f = evaluate_training(m, s, full, p);
  const TrainingResult l = evaluate_training(m, s, lora, p);
  // The forward is the same; the backward loses one GEMM in three of its GEMM work.
  EXPECT_DOUBLE_EQ(l.breakdown.forward.value(), f.breakdown.forward.value());
  EXPECT_LT(l.breakdown.backward, f.breakdown.backward * 0.8);
  EXPECT_GT(l.breakdown.backward, f.breakdown.forward);
  // Rank-16 adapters on q, k, v, o: 16 x (2 x 8192 + 2 x (8192 + 1024) + 2 x 8192) per layer
  // over tp 8, for 80 layers, with 12 bytes of Adam state each.
  const double adapters = 16.0 * (8192 + 8192 + 2 * (8192 + 1024) + 8192 + 8192) / 8 * 80;
  EXPECT_NEAR(l.memory.optimizer_states.value(), adapters * 12.0, 1.0);
  EXPECT_LT(l.memory.total(), f.memory.total());
  EXPECT_LT(l.breakdown.optimizer, f.breakdown.optimizer * 0.01);
  EXPECT_GT(l.tokens_per_s, f.tokens_per_s * 1.2);
  // Model FLOPs count what runs: 4N + attention instead of 6N + attention.
  EXPECT_LT(l.model_flops_per_step, f.model_flops_per_step * 0.72);
}

}  // namespace
}  // namespace xpusim
