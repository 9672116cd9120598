// Serving on a system: expert parallelism with data-parallel attention and its all-to-alls on
// the system's fabrics, disaggregated pools, speculative decoding, prefix caching and the
// serving stack's engine costs.

#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "test_files.hpp"
#include "test_support.hpp"
#include "xpusim/comm/group.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/cost/operators.hpp"
#include "xpusim/econ/economics.hpp"
#include "xpusim/infer/inference.hpp"
#include "xpusim/serve/capacity.hpp"
#include "xpusim/serve/plan.hpp"
#include "xpusim/serve/simulator.hpp"
#include "xpusim/stack/stack.hpp"
#include "xpusim/system/system.hpp"

namespace xpusim {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

ServeConfig config(const std::string& model, double rate, int64_t requests) {
  ServeConfig c;
  c.model = testing::model(model);
  c.hw = testing::hw("h100-sxm");
  c.economics = load_economics(testing::data_dir() / "economics.yaml");
  c.workload.arrival = ArrivalKind::kPoisson;
  c.workload.rate_per_s = rate;
  c.workload.num_requests = requests;
  c.workload.input = parse_length_distribution("uniform:256:1024", "--input-len");
  c.workload.output = parse_length_distribution("uniform:64:256", "--output-len");
  c.workload.seed = 11;
  return c;
}

/// One request at a time, so that every decode step runs a batch of one.
ServeConfig one_at_a_time(ServeConfig c, int64_t input, int64_t output) {
  c.workload.arrival = ArrivalKind::kClosedLoop;
  c.workload.concurrency = 1;
  c.workload.num_requests = 4;
  c.workload.input = parse_length_distribution("fixed:" + std::to_string(input), "--input-len");
  c.workload.output = parse_length_distribution("fixed:" + std::to_string(output), "--output-len");
  return c;
}

Seconds op_time(const PassCost& cost, OpKind kind) {
  return cost.by_op[static_cast<std::size_t>(kind)].time;
}

// ---- the system ----

TEST(ServeSystem, ABareAcceleratorBecomesAsManyDefaultNodesAsTheDeploymentNeeds) {
  ServeConfig c = config("llama-2-70b", 1.0, 10);
  c.tensor_parallel = 8;
  c.replicas = 3;
  const SystemSpec s = serving_system(c);
  EXPECT_EQ(s.accelerator.id, "h100-sxm");
  EXPECT_EQ(s.devices_per_node, 8);
  EXPECT_EQ(s.nodes, 3);
  c.replicas = 1;
  EXPECT_EQ(serving_system(c).nodes, 1);
}

TEST(ServeSystem, TheDefaultNodeIsTheAcceleratorsOwnDomain) {
  // Inference, serving and the cost model's accelerator path price tensor parallelism alike.
  const ModelSpec m = testing::model("llama-2-70b");
  const AcceleratorSpec h100 = testing::hw("h100-sxm");
  const SystemSpec node = default_system_for(h100, 8);
  EXPECT_EQ(node.nodes, 1);
  EXPECT_EQ(node.scale_up.domain_devices, 8);
  Deployment d;
  d.tensor_parallel = 8;
  for (const int64_t batch : {1, 64}) {
    const IterationShape shape = IterationShape::uniform(m, {batch, 1, 1024});
    EXPECT_DOUBLE_EQ(cost_iteration(m, node, d, shape).time.value(),
                     cost_iteration(m, h100, d, shape).time.value())
        << batch;
  }
  EXPECT_EQ(default_system_for(h100, 24).nodes, 3);
}

TEST(ServeSystem, AGivenSystemIsKeptAndItsAcceleratorMustMatch) {
  ServeConfig c = config("llama-2-7b", 1.0, 10);
  c.system =
      load_system("dgx-h100-superpod", testing::data_dir() / "systems", testing::hardware_dir());
  c.hw = c.system->accelerator;
  EXPECT_EQ(serving_system(c).id, "dgx-h100-superpod");
  c.hw = testing::hw("a100-sxm-80gb");
  EXPECT_EQ(error_of([&] { validate_serve_config(c); }),
            "command line: --system: its accelerator h100-sxm is not the configured a100-sxm-80gb");
}

TEST(ServeSystem, SwapNeedsTheAcceleratorsHostLink) {
  ServeConfig c = config("llama-2-7b", 1.0, 10);
  c.hw.host_link_bandwidth.reset();
  c.limits.preemption = Preemption::kSwap;
  EXPECT_EQ(error_of([&] { validate_serve_config(c); }),
            "command line: --preemption: swap needs the accelerator's host link "
            "(host_link.bandwidth_bytes_per_s), which h100-sxm's file does not give");
}

// ---- expert parallelism ----

TEST(ServeExpertParallel, EightRanksAcrossNodesAreSlowerThanInsideOneNvlinkDomain) {
  const ModelSpec m = testing::model("deepseek-v3");
  const AcceleratorSpec h100 = testing::hw("h100-sxm");
  const SystemSpec nvlink = default_system(h100, 1, 8);
  const SystemSpec across = default_system(h100, 8, 1, 1);  // one GPU per node, no NVLink
  ASSERT_EQ(across.scale_up.domain_devices, 1);
  Deployment d;
  d.weight_dtype = DType::kFp8;
  d.expert_parallel = 8;
  const IterationShape batch = IterationShape::uniform(m, {64, 1, 2048});
  const PassCost inside = cost_iteration(m, nvlink, d, batch);
  const PassCost outside = cost_iteration(m, across, d, batch);
  EXPECT_GT(op_time(inside, OpKind::kExpertParallelComm).value(), 0.0);
  EXPECT_GT(op_time(outside, OpKind::kExpertParallelComm).value(),
            2.0 * op_time(inside, OpKind::kExpertParallelComm).value());
  EXPECT_GT(outside.time.value(), inside.time.value());
  // Everything but the all-to-alls is the same work.
  EXPECT_DOUBLE_EQ(op_time(inside, OpKind::kExpertsUp).value(),
                   op_time(outside, OpKind::kExpertsUp).value());
  // Dispatch (fp8, as the expert GEMMs compute) and combine (bf16) per MoE layer, each the
  // routed copies of the device's tokens.
  const double copies = 64.0 * 8.0 * 7168.0;
  auto all_to_all = [&](double bytes) {
    return collective_time(Collective::kAllToAll, Bytes(bytes), place_group(8, 1, across), across) +
           h100.efficiency.kernel_overhead;
  };
  EXPECT_NEAR(
      op_time(outside, OpKind::kExpertParallelComm).value(),
      (all_to_all(copies) + all_to_all(2.0 * copies)).value() * static_cast<double>(m.moe_layers()),
      1e-9);
  d.expert_parallel = 1;
  EXPECT_EQ(op_time(cost_iteration(m, nvlink, d, batch), OpKind::kExpertParallelComm).value(), 0.0);
}

TEST(ServeExpertParallel, GroupedExpertGemmsMatchDeepGemmsKernelFigures) {
  // The tile/wave model of gemm_cost at small per-expert M against DeepGEMM's grouped FP8 GEMMs
  // on H800 (H100 tensor cores and HBM3; deepseek-ai/DeepGEMM README.md at 327ec92): contiguous
  // layout (prefill) and masked layout (decode), TFLOP/s.
  struct Case {
    int64_t groups, m, n, k;
    double measured;
  };
  const AcceleratorSpec h100 = testing::hw("h100-sxm");
  Deployment d;
  d.weight_dtype = DType::kFp8;
  d.fp8_kind = GemmKind::kFp8Blockwise;
  for (const Case& c : {Case{4, 8192, 4096, 7168, 1346}, Case{8, 4096, 7168, 2048, 1214},
                        Case{4, 256, 4096, 7168, 932}, Case{4, 256, 7168, 2048, 815}}) {
    const KernelCost k = gemm_cost({c.m, c.n, c.k, c.groups}, h100, d);
    const double rate = k.flops.value() / k.time.value() / 1e12;
    EXPECT_NEAR(rate, c.measured, 0.11 * c.measured) << c.groups << "x" << c.m;
  }
}

TEST(ServeExpertParallel, ExpertsAreSplitOverTheGroupAndEachGroupKeepsItsOwnCache) {
  ServeConfig c = config("qwen3-30b-a3b", 4.0, 100);
  const KvCacheSize one = kv_cache_size(c);
  c.expert_parallel = 8;
  const KvCacheSize eight = kv_cache_size(c);
  // Fewer expert weights per device leave more for the cache, and the replica has 8 groups.
  EXPECT_GT(eight.free_per_device.value(), one.free_per_device.value());
  EXPECT_GT(eight.blocks_per_engine, 8 * one.blocks_per_engine);
  EXPECT_EQ(devices_of(c), 8);
  Deployment d;
  d.expert_parallel = 8;
  const Bytes split = weight_bytes_per_device(c.model, d);
  d.expert_parallel = 1;
  const Bytes whole = weight_bytes_per_device(c.model, d);
  const double experts = static_cast<double>(routed_expert_parameters(c.model)) * 2.0;
  EXPECT_NEAR(whole.value() - split.value(), experts * 7.0 / 8.0, 1.0);
  const ServeResult r = simulate(c);
  EXPECT_EQ(r.completed + r.dropped, r.requests);
  EXPECT_EQ(r.completed, 100);
}

TEST(ServeExpertParallel, ADenseModelOrAnUnevenSplitIsAnError) {
  ServeConfig c = config("llama-2-7b", 1.0, 10);
  c.expert_parallel = 2;
  EXPECT_EQ(error_of([&] { validate_serve_config(c); }),
            "command line: --ep: expert parallelism needs a mixture-of-experts model, and "
            "llama-2-7b is dense");
  c.model = testing::model("qwen3-30b-a3b");
  c.expert_parallel = 3;
  EXPECT_EQ(error_of([&] { validate_serve_config(c); }),
            "command line: --ep: expected a divisor of the model's 128 routed experts, got 3");
}

// ---- disaggregation ----

TEST(ServeDisaggregatedPools, TimeToFirstTokenDoesNotFeelTheDecodeLoad) {
  // Longer outputs load the decode pool several times more; the prefill pool never waits for
  // a decode step, so the first token comes as fast. Colocated, it is slowed by the decodes.
  auto ttft = [](bool split, const char* output) {
    ServeConfig c = config("llama-3.1-8b", 30.0, 1500);
    c.workload.output = parse_length_distribution(output, "--output-len");
    if (split) {
      c.scheduler = SchedulerKind::kDisaggregated;
      c.prefill_replicas = 1;
      c.decode_replicas = 2;
    } else {
      c.scheduler = SchedulerKind::kChunked;
      c.replicas = 3;
    }
    return simulate(c).ttft.p50.value();
  };
  const double light = ttft(true, "fixed:32");
  const double heavy = ttft(true, "fixed:1024");
  EXPECT_NEAR(heavy, light, 0.05 * light);
  EXPECT_GT(ttft(false, "fixed:1024"), 1.2 * ttft(false, "fixed:32"));
}

TEST(ServeDisaggregatedPools, TheDecodePoolMayHaveItsOwnParallelism) {
  ServeConfig c = config("llama-2-70b", 1.0, 60);
  c.scheduler = SchedulerKind::kDisaggregated;
  c.tensor_parallel = 4;
  c.decode_tensor_parallel = 8;
  c.prefill_replicas = 1;
  c.decode_replicas = 1;
  EXPECT_EQ(devices_of(c), 12);
  // The decode replica does not straddle nodes: it starts on the second.
  EXPECT_EQ(serving_system(c).nodes, 2);
  const ServeResult r = simulate(c);
  ASSERT_TRUE(r.disaggregation.has_value());
  EXPECT_EQ(r.completed, 60);
  // The decode pool's devices each hold half as much of every sequence's cache.
  EXPECT_NEAR(r.disaggregation->decode_kv_cache.bytes_per_token_per_device.value() * 2.0,
              r.kv_cache.bytes_per_token_per_device.value(), 1e-9);
  // Prefill on node 0 and decode on node 1: the hand-offs cross the scale-out network.
  EXPECT_FALSE(r.disaggregation->scale_up);
}

// ---- speculative decoding ----

TEST(ServeSpeculation, ExpectedTokensPerStep) {
  Speculation s;
  EXPECT_DOUBLE_EQ(expected_tokens_per_step(s), 1.0);
  s.draft_tokens = 3;
  s.acceptance = 0.0;
  EXPECT_DOUBLE_EQ(expected_tokens_per_step(s), 1.0);
  s.acceptance = 1.0;
  EXPECT_DOUBLE_EQ(expected_tokens_per_step(s), 4.0);
  s.draft_tokens = 1;
  s.acceptance = 0.5;
  EXPECT_DOUBLE_EQ(expected_tokens_per_step(s), 1.5);
}

TEST(ServeSpeculation, DecodeIsFasterByTheExpectedTokensOverTheStepCost) {
  const int64_t input = 512, output = 1025;
  ServeConfig plain = one_at_a_time(config("llama-2-70b", 1.0, 4), input, output);
  plain.tensor_parallel = 4;
  ServeConfig spec = plain;
  spec.speculation.draft_tokens = 3;
  spec.speculation.acceptance = 0.8;
  spec.speculation.draft_model = testing::model("llama-2-7b");
  const double tokens = expected_tokens_per_step(spec.speculation);
  ASSERT_NEAR(tokens, (1.0 - std::pow(0.8, 4)) / 0.2, 1e-12);

  // The step at the middle context: one verify pass of k + 1 tokens and k draft passes.
  const SystemSpec system = serving_system(plain);
  Deployment d;
  d.tensor_parallel = 4;
  const int64_t middle = input + output / 2;
  const double decode =
      cost_iteration(plain.model, system, d, IterationShape::uniform(plain.model, {1, 1, middle}))
          .time.value();
  const double verify =
      cost_iteration(plain.model, system, d, IterationShape::uniform(plain.model, {1, 4, middle}))
          .time.value();
  const double draft = cost_iteration(*spec.speculation.draft_model, system, d,
                                      IterationShape::uniform(plain.model, {1, 1, middle}))
                           .time.value();
  const double expected_speedup = tokens * decode / (verify + 3.0 * draft);
  const double a = simulate(plain).tpot.mean.value();
  const double b = simulate(spec).tpot.mean.value();
  EXPECT_GT(a / b, 1.8);
  EXPECT_NEAR(a / b, expected_speedup, 0.03 * expected_speedup);
}

TEST(ServeSpeculation, MtpLayersAndBadSettings) {
  // MTP layers of a dense model: one more layer and the head per proposal.
  ServeConfig c = one_at_a_time(config("llama-3.1-8b", 1.0, 4), 256, 257);
  const double plain = simulate(c).tpot.mean.value();
  c.speculation.draft_tokens = 1;
  c.speculation.acceptance = 0.9;
  const double mtp = simulate(c).tpot.mean.value();
  EXPECT_LT(mtp, plain / 1.5);
  // A small-batch MoE verify pass of k + 1 tokens reaches more experts, so speculation buys
  // less there.
  ServeConfig moe = one_at_a_time(config("qwen3-30b-a3b", 1.0, 4), 256, 257);
  const double moe_plain = simulate(moe).tpot.mean.value();
  moe.speculation = c.speculation;
  EXPECT_GT(simulate(moe).tpot.mean.value() / moe_plain, mtp / plain);
  c.model = moe.model;
  c.speculation.acceptance = 1.5;
  EXPECT_EQ(error_of([&] { validate_serve_config(c); }),
            "command line: --spec-acceptance: expected a share in [0, 1], got 1.5");
  c.speculation.acceptance = 0.5;
  c.speculation.draft_model = testing::model("llama-2-7b");
  EXPECT_EQ(error_of([&] { validate_serve_config(c); }),
            "command line: --spec-draft: the draft's vocabulary of 32000 differs from the "
            "model's 151936");
}

// ---- prefix caching ----

TEST(ServePrefixCache, CachedPrefixesAreNotPrefilledAgain) {
  ServeConfig c = config("llama-3.1-8b", 4.0, 200);
  c.workload.input = parse_length_distribution("fixed:2000", "--input-len");
  const ServeResult cold = simulate(c);
  c.prefix_cache_hit_rate = 0.75;
  const ServeResult warm = simulate(c);
  EXPECT_EQ(cold.prefill_tokens_processed, 200 * 2000);
  EXPECT_EQ(warm.prefill_tokens_processed, 200 * 500);
  EXPECT_EQ(warm.prompt_tokens, cold.prompt_tokens);
  EXPECT_LT(warm.ttft.mean.value(), 0.6 * cold.ttft.mean.value());
  c.prefix_cache_hit_rate = 1.0;
  EXPECT_EQ(error_of([&] { validate_serve_config(c); }),
            "command line: --prefix-hit-rate: expected a share in [0, 1), got 1");
}

// ---- the serving stack ----

TEST(ServeStack, EveryStepPaysTheStacksHostTime) {
  const auto stacks = load_all_stacks(testing::data_dir() / "stacks");
  const StackSpec* newest = newest_serving_stack(stacks, ArchitectureFamily::kNvidiaHopper);
  ASSERT_NE(newest, nullptr);
  EXPECT_EQ(newest->id, "vllm-0.8");
  EXPECT_EQ(newest_serving_stack(stacks, ArchitectureFamily::kGoogleTpu), nullptr);

  ServeConfig c = one_at_a_time(config("llama-3.1-8b", 1.0, 4), 128, 129);
  const double bare = simulate(c).tpot.mean.value();
  c.stack = load_stack("vllm-0.6", testing::data_dir() / "stacks");
  const double host = c.stack->serving->host_overhead_per_iteration.value();
  EXPECT_NEAR(host, 4e-3, 1e-12);
  // The stack also sets the prefill attention kernel; at one sequence decode is unaffected.
  EXPECT_NEAR(simulate(c).tpot.mean.value(), bare + host, 1e-6);
  const EngineLimits limits = stack_limits(*c.stack->serving, EngineLimits{});
  EXPECT_EQ(limits.max_num_seqs, 256);
  EXPECT_EQ(limits.max_batched_tokens, 8192);
  // A decode kernel with its own measured bandwidth streams the cache at that rate.
  const StackSpec v1 = load_stack("vllm-0.8", testing::data_dir() / "stacks");
  EXPECT_EQ(stack_limits(*v1.serving, EngineLimits{}).max_batched_tokens, 2048);
  ASSERT_TRUE(v1.serving->decode_attention_bandwidth_fraction.has_value());
  Deployment d;
  const IterationShape decode = IterationShape::uniform(c.model, {64, 1, 4000});
  const PassCost chip = cost_iteration(c.model, serving_system(c), d, decode);
  d.decode_attention_bandwidth_fraction = v1.serving->decode_attention_bandwidth_fraction;
  const PassCost kernel = cost_iteration(c.model, serving_system(c), d, decode);
  const double bytes = chip.by_op[static_cast<std::size_t>(OpKind::kAttention)].bytes.value();
  const double bandwidth = c.hw.memory_bandwidth.value();
  const double slower =
      bytes / (bandwidth * 0.55) - bytes / (bandwidth * c.hw.efficiency.memory_bandwidth_fraction);
  EXPECT_NEAR((op_time(kernel, OpKind::kAttention) - op_time(chip, OpKind::kAttention)).value(),
              slower, 1e-9);
}

// ---- capacity planning ----

TEST(ServePlanBound, TheBoundIsAtLeastTheRateOneReplicaSustains) {
  ServeConfig c = config("llama-2-7b", 1.0, 300);
  c.scheduler = SchedulerKind::kChunked;
  const ReplicaBound bound = bound_replica(c, 640.0, 160.0);
  ASSERT_TRUE(bound.feasible) << bound.reason;
  // No schedule serves more than the bound: not even every request at once (offline).
  ServeConfig offline = c;
  offline.workload.arrival = ArrivalKind::kOffline;
  offline.workload.num_requests = 2000;
  EXPECT_GE(bound.max_rate_requests_per_s, simulate(offline).throughput_requests_per_s);
  EXPECT_GT(bound.decode_batch, 1);
  // An objective no single request meets is ruled out without a simulation.
  c.slo.tpot = Seconds(1e-4);
  const ReplicaBound none = bound_replica(c, 640.0, 160.0);
  EXPECT_FALSE(none.feasible);
  EXPECT_EQ(none.reason, "one sequence's decode step alone is past the TPOT objective");
}

TEST(ServePlanBound, PlansOverExpertParallelismAndDisaggregationAndPrunes) {
  PlanRequest request;
  request.base = config("qwen3-30b-a3b", 1.0, 150);
  request.base.scheduler = SchedulerKind::kChunked;
  request.rate_requests_per_s = 8.0;
  request.accelerators = {testing::hw("h100-sxm"), testing::hw("a100-sxm-80gb")};
  const PlanResult plan = plan_deployment(request);
  bool expert_parallel = false, disaggregated = false;
  for (const PlanCandidate& c : plan.candidates) {
    expert_parallel = expert_parallel || c.expert_parallel > 1;
    disaggregated = disaggregated || c.disaggregated;
    if (!c.simulated) EXPECT_FALSE(c.meets);
  }
  EXPECT_TRUE(expert_parallel);
  EXPECT_TRUE(disaggregated);
  ASSERT_TRUE(plan.candidates.front().meets);
  const PlanCandidate& best = plan.candidates.front();
  EXPECT_TRUE(meets_slo(request.base, best.at_rate));
  EXPECT_LE(*best.bound_usd_per_hour, *best.usd_per_hour + 1e-9);
  EXPECT_GT(plan.pruned, 0);
  EXPECT_LT(plan.simulations, static_cast<int>(plan.candidates.size()));
}

// ---- the command line ----

TEST(ServeSystemCli, TheStackIsNamedAndItsDefaultsApply) {
  const std::string m = "serve --model llama-3.1-8b --hw h100-sxm --offline --num-requests 20 ";
  const testing::CliResult text = testing::run_xpusim(m);
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("engine vllm-0.8"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("system default-h100-sxm: 1 node(s) of 8 devices in use"),
            std::string::npos)
      << text.out;
  const testing::CliResult json = testing::run_xpusim(m + "--format json");
  ASSERT_EQ(json.status, 0) << json.err;
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["stack"], "vllm-0.8");
  EXPECT_EQ(j["max_batched_tokens"], 2048);  // the stack's default
  EXPECT_EQ(j["scheduler"], "chunked");      // it prefills in chunks
  const auto given = nlohmann::json::parse(
      testing::run_xpusim(m + "--max-batched-tokens 4096 --stack none --format json").out);
  EXPECT_EQ(given["max_batched_tokens"], 4096);
  EXPECT_TRUE(given["stack"].is_null());
  struct Case {
    std::string args;
    std::string error;
  };
  const std::vector<Case> cases = {
      {m + "--stack megatron-bridge-25.11",
       "xpusim: command line: --stack: megatron-bridge-25.11 is a training stack; expected a "
       "serving one\n"},
      {"serve --model llama-3.1-8b --hw b200 --stack vllm-0.8 --offline",
       "xpusim: command line: --stack: vllm-0.8 does not run on b200 (nvidia_blackwell)\n"},
      {"serve --model llama-3.1-8b --hw h100-sxm --system dgx-h100-superpod --offline",
       "xpusim: command line: --hw: give exactly one of --hw and --system\n"},
      {m + "--ep 2",
       "xpusim: command line: --ep: expert parallelism needs a mixture-of-experts "
       "model, and llama-3.1-8b is dense\n"},
  };
  for (const auto& c : cases) {
    const testing::CliResult r = testing::run_xpusim(c.args);
    EXPECT_EQ(r.status, 2) << c.args;
    EXPECT_EQ(r.err, c.error) << c.args;
  }
}

}  // namespace
}  // namespace xpusim
