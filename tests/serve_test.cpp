// The serving simulator: workload distributions and traces, the engine's invariants (same seed,
// same run; every request finishes or is dropped; the cache never overflows; latency does not
// fall as load rises), the policies against each other, and the `serve` command line.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_files.hpp"
#include "test_support.hpp"
#include "xpusim/comm/group.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/econ/economics.hpp"
#include "xpusim/serve/capacity.hpp"
#include "xpusim/serve/plan.hpp"
#include "xpusim/serve/simulator.hpp"
#include "xpusim/serve/workload.hpp"

namespace xpusim {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const fs::path kServeData = fs::path(XPUSIM_TEST_DATADIR) / "serve";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

ServeConfig small_config(double rate, int64_t requests = 600) {
  ServeConfig c;
  c.model = testing::model("llama-2-7b");
  c.hw = testing::hw("h100-sxm");
  c.economics = load_economics(testing::data_dir() / "economics.yaml");
  c.workload.arrival = ArrivalKind::kPoisson;
  c.workload.rate_per_s = rate;
  c.workload.num_requests = requests;
  c.workload.input = parse_length_distribution("uniform:256:1024", "--input-len");
  c.workload.output = parse_length_distribution("uniform:64:256", "--output-len");
  c.workload.seed = 7;
  return c;
}

double sample_mean(const LengthDistribution& d, int n, double* sd = nullptr,
                   int64_t* min = nullptr) {
  std::mt19937_64 rng = random_stream(1, "test");
  double sum = 0.0, sum2 = 0.0;
  int64_t lowest = INT64_MAX;
  for (int i = 0; i < n; ++i) {
    const auto x = static_cast<double>(sample_length(d, rng));
    sum += x;
    sum2 += x * x;
    lowest = std::min(lowest, static_cast<int64_t>(x));
  }
  const double mean = sum / n;
  if (sd) *sd = std::sqrt(sum2 / n - mean * mean);
  if (min) *min = lowest;
  return mean;
}

// ---- workload ----

TEST(ServeWorkload, DistributionsHaveTheirMeans) {
  EXPECT_EQ(sample_mean(parse_length_distribution("fixed:300", "--input-len"), 100), 300.0);
  EXPECT_NEAR(sample_mean(parse_length_distribution("uniform:100:300", "--input-len"), 100000),
              200.0, 1.0);
  double sd = 0.0;
  EXPECT_NEAR(sample_mean(parse_length_distribution("normal:500:50", "--input-len"), 100000, &sd),
              500.0, 1.0);
  EXPECT_NEAR(sd, 50.0, 1.0);
  // Log-normal parameters are those of the lengths themselves, not of their logarithm.
  EXPECT_NEAR(
      sample_mean(parse_length_distribution("lognormal:1000:500", "--input-len"), 200000, &sd),
      1000.0, 10.0);
  EXPECT_NEAR(sd, 500.0, 15.0);
  const auto file =
      parse_length_distribution("file:" + (kServeData / "lengths.txt").string(), "--input-len");
  EXPECT_EQ(file.values, (std::vector<int64_t>{100, 200, 300}));
  EXPECT_NEAR(sample_mean(file, 30000), 200.0, 3.0);
}

TEST(ServeWorkload, LengthsAreClippedToAtLeastOne) {
  int64_t lowest = 0;
  sample_mean(parse_length_distribution("normal:2:20", "--output-len"), 10000, nullptr, &lowest);
  EXPECT_EQ(lowest, 1);
}

TEST(ServeWorkload, DistributionErrorsNameTheFlag) {
  auto parse = [](const std::string& text) {
    return error_of([&] { (void)parse_length_distribution(text, "--input-len"); });
  };
  EXPECT_EQ(parse("gauss:1:2"),
            "--input-len: expected fixed:N, uniform:LO:HI, normal:MEAN:SD, "
            "lognormal:MEAN:SD or file:PATH, got 'gauss:1:2'");
  EXPECT_EQ(parse("fixed:0"),
            "--input-len: fixed: expected an integer from 1 to 16777216, got '0'");
  EXPECT_EQ(parse("uniform:10:5"), "--input-len: uniform: expected LO <= HI, got 10:5");
  EXPECT_EQ(parse("normal:100"), "--input-len: normal: expected normal:MEAN:SD, got 'normal:100'");
  EXPECT_EQ(parse("lognormal:100:-1"),
            "--input-len: lognormal: SD: expected a number in [0, 16777216], got '-1'");
  const fs::path bad = kServeData / "bad_lengths.txt";
  EXPECT_EQ(parse("file:" + bad.string()),
            bad.string() + ": line 2: expected an integer from 1 to 16777216, got '-4'");
}

TEST(ServeWorkload, TracesInCsvAndJsonl) {
  const auto csv = load_trace(kServeData / "good.csv");
  ASSERT_EQ(csv.size(), 3u);
  EXPECT_EQ(csv[1].arrival_s, 0.5);
  EXPECT_EQ(csv[1].input_tokens, 256);
  EXPECT_EQ(csv[2].output_tokens, 8);
  const auto jsonl = load_trace(kServeData / "good.jsonl");
  ASSERT_EQ(jsonl.size(), 2u);
  EXPECT_EQ(jsonl[1].arrival_s, 0.25);
  EXPECT_EQ(jsonl[1].input_tokens, 512);
}

TEST(ServeWorkload, MalformedTraceLinesAreNamedByNumber) {
  const fs::path csv = kServeData / "bad_field.csv";
  EXPECT_EQ(
      error_of([&] { (void)load_trace(csv); }),
      csv.string() + ": line 3: input_tokens: expected an integer from 1 to 16777216, got 'abc'");
  const fs::path jsonl = kServeData / "bad_key.jsonl";
  EXPECT_EQ(error_of([&] { (void)load_trace(jsonl); }),
            jsonl.string() + ": line 2: unknown key 'input_token' (did you mean: input_tokens?)");
}

TEST(ServeWorkload, ARateOfZeroIsAnError) {
  ServeConfig c = small_config(0.0);
  EXPECT_EQ(error_of([&] { (void)simulate(c); }),
            "workload.rate_per_s: expected a rate from 1e-06 to 1e+06 requests/s, got 0");
}

// ---- engine invariants ----

TEST(ServeEngine, TheSameSeedGivesTheSameRun) {
  const ServeConfig c = small_config(12.0);
  const ServeResult a = simulate(c);
  const ServeResult b = simulate(c);
  EXPECT_EQ(a.seed, 7u);
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.makespan.value(), b.makespan.value());
  for (auto pick :
       {&ServeResult::ttft, &ServeResult::tpot, &ServeResult::e2e, &ServeResult::queueing}) {
    EXPECT_EQ((a.*pick).mean.value(), (b.*pick).mean.value());
    EXPECT_EQ((a.*pick).p99.value(), (b.*pick).p99.value());
  }
  EXPECT_EQ(a.kv_utilization_mean, b.kv_utilization_mean);
  ServeConfig other = c;
  other.workload.seed = 8;
  EXPECT_NE(simulate(other).e2e.mean.value(), a.e2e.mean.value());
}

TEST(ServeEngine, AHigherRateNeverLowersLatencyPercentiles) {
  double p50 = 0.0, p99 = 0.0, ttft99 = 0.0;
  for (const double rate : {2.0, 4.0, 8.0, 12.0, 16.0}) {
    const ServeResult r = simulate(small_config(rate, 1500));
    EXPECT_GE(r.e2e.p50.value(), p50) << rate;
    EXPECT_GE(r.e2e.p99.value(), p99) << rate;
    EXPECT_GE(r.ttft.p99.value(), ttft99) << rate;
    EXPECT_NEAR(r.throughput_requests_per_s, rate, 0.1 * rate);  // steady state
    p50 = r.e2e.p50.value();
    p99 = r.e2e.p99.value();
    ttft99 = r.ttft.p99.value();
  }
}

TEST(ServeEngine, EveryRequestFinishesOrIsDroppedAndTheCacheNeverOverflows) {
  for (const auto scheduler :
       {SchedulerKind::kStatic, SchedulerKind::kContinuous, SchedulerKind::kChunked}) {
    ServeConfig c = small_config(40.0, 800);  // past saturation
    c.scheduler = scheduler;
    // A small cache, so that decode runs out of blocks and preempts.
    c.limits.gpu_memory_utilization = 0.3;
    // Log-normal prompts with a tail past the model's 4096 positions: some are dropped.
    c.workload.input = parse_length_distribution("lognormal:1500:1200", "--input-len");
    const ServeResult r = simulate(c);
    EXPECT_EQ(r.completed + r.dropped, r.requests);
    EXPECT_GT(r.dropped, 0);
    EXPECT_LE(r.kv_blocks_max_used, r.kv_cache.blocks_per_engine);
    EXPECT_GT(r.kv_blocks_max_used, r.kv_cache.blocks_per_engine / 2);
    if (scheduler != SchedulerKind::kStatic) {
      EXPECT_GT(r.preemptions, 0);
    }
    EXPECT_GT(r.generated_tokens, 0);
  }
}

TEST(ServeEngine, ClosedLoopKeepsAtMostTheClientsInFlight) {
  ServeConfig c = small_config(1.0, 300);
  c.workload.arrival = ArrivalKind::kClosedLoop;
  c.workload.concurrency = 16;
  const ServeResult r = simulate(c);
  EXPECT_EQ(r.completed, 300);
  EXPECT_LE(r.batch_size_max, 16);
  EXPECT_GT(r.batch_size_mean, 8.0);
}

TEST(ServeEngine, TracesDriveArrivals) {
  ServeConfig c = small_config(1.0);
  c.workload.arrival = ArrivalKind::kTrace;
  c.workload.trace = load_trace(kServeData / "good.csv");
  const ServeResult r = simulate(c);
  EXPECT_EQ(r.completed, 3);
  EXPECT_EQ(r.generated_tokens, 16 + 32 + 8);
  EXPECT_EQ(r.prompt_tokens, 128 + 256 + 64);
}

TEST(ServeEngine, LengthsThatNeverFitAreAClearError) {
  ServeConfig c = small_config(1.0, 10);
  c.workload.input = parse_length_distribution("fixed:4000", "--input-len");
  c.workload.output = parse_length_distribution("fixed:200", "--output-len");
  EXPECT_EQ(error_of([&] { (void)simulate(c); }),
            "workload.input: no request fits: the shortest needs input + output - 1 = "
            "4199 positions and the model's context is 4096 tokens");
  c.workload.input = parse_length_distribution("fixed:3000", "--input-len");
  c.limits.gpu_memory_utilization = 0.2;
  EXPECT_PRED2(contains, error_of([&] { (void)simulate(c); }),
               std::string("workload.input: no request fits the KV cache: the shortest "
                           "needs 3199 tokens"));
}

TEST(ServeEngine, AModelThatDoesNotFitIsAClearError) {
  ServeConfig c = small_config(1.0, 10);
  c.model = testing::model("llama-2-70b");
  EXPECT_PRED2(contains, error_of([&] { (void)simulate(c); }),
               std::string("tensor_parallel: llama-2-70b does not fit"));
}

// ---- policies against each other ----

TEST(ServePolicies, OfflineThroughputIsAtLeastThatOfALowRate) {
  ServeConfig low = small_config(2.0, 400);
  ServeConfig offline = low;
  offline.workload.arrival = ArrivalKind::kOffline;
  const ServeResult a = simulate(low);
  const ServeResult b = simulate(offline);
  EXPECT_GE(b.throughput_tokens_per_s, a.throughput_tokens_per_s);
  EXPECT_GT(b.batch_size_mean, a.batch_size_mean);
}

TEST(ServePolicies, StaticBatchingIsSlowerThanContinuousAtTheSameLoad) {
  ServeConfig continuous = small_config(10.0, 800);
  ServeConfig static_batching = continuous;
  static_batching.scheduler = SchedulerKind::kStatic;
  const ServeResult c = simulate(continuous);
  const ServeResult s = simulate(static_batching);
  EXPECT_GT(s.e2e.mean.value(), 1.5 * c.e2e.mean.value());
  EXPECT_GT(s.ttft.p99.value(), c.ttft.p99.value());
}

TEST(ServePolicies, ChunkedPrefillLowersTheTailTimePerTokenUnderLongPrompts) {
  ServeConfig continuous = small_config(1.0, 600);
  continuous.model = testing::model("llama-3.1-8b");
  continuous.workload.input = parse_length_distribution("uniform:6000:12000", "--input-len");
  continuous.workload.output = parse_length_distribution("uniform:64:256", "--output-len");
  ServeConfig chunked = continuous;
  chunked.scheduler = SchedulerKind::kChunked;
  chunked.limits.max_batched_tokens = 512;  // Sarathi-Serve's budget for strict TPOT limits
  const ServeResult c = simulate(continuous);
  const ServeResult k = simulate(chunked);
  EXPECT_LT(k.tpot.p99.value(), 0.85 * c.tpot.p99.value());
  // The price: prompts take several iterations, so the first token comes later.
  EXPECT_GT(k.ttft.p99.value(), c.ttft.p99.value());
}

TEST(ServePolicies, ReplicasAndPipelineStagesAddCapacity) {
  ServeConfig one = small_config(40.0, 1500);  // past one replica's ~21 requests/s
  ServeConfig two = one;
  two.replicas = 2;
  ServeConfig balanced = two;
  balanced.load_balancer = LoadBalancer::kLeastOutstanding;
  ServeConfig pipelined = one;
  pipelined.pipeline_parallel = 2;
  const double base = simulate(one).throughput_requests_per_s;
  EXPECT_GT(simulate(two).throughput_requests_per_s, 1.6 * base);
  EXPECT_GT(simulate(balanced).throughput_requests_per_s, 1.6 * base);
  EXPECT_GT(simulate(pipelined).throughput_requests_per_s, 1.3 * base);
}

// ---- the command line ----

using testing::CliResult;
using testing::read_text;

CliResult run(const std::string& args) {
  return testing::run_xpusim("serve " + args);
}

const std::string k70b = "--model llama-2-70b --hw h100-sxm --devices 8 --tp 8 ";

TEST(ServeCli, JsonHasTheInterfaceFieldsAndWritesTheTrace) {
  const fs::path trace =
      fs::temp_directory_path() / ("xpusim_serve_trace_" + std::to_string(::getpid()) + ".json");
  const CliResult r = run(k70b +
                          "--scheduler chunked --rate 2 --num-requests 50 --input-len "
                          "lognormal:1024:256 --output-len fixed:64 --seed 3 --format json "
                          "--trace " +
                          trace.string());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"throughput_tokens_per_s", "throughput_requests_per_s", "goodput",
                          "cost_per_million_tokens", "seed", "dropped", "kv_cache"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  for (const char* key : {"ttft_s", "tpot_s", "e2e_latency_s"}) {
    for (const char* stat : {"mean", "p50", "p90", "p99"}) {
      EXPECT_TRUE(j[key].contains(stat)) << key << "." << stat;
    }
  }
  EXPECT_EQ(j["seed"], 3);
  EXPECT_EQ(j["completed"], 50);
  const auto t = nlohmann::json::parse(read_text(trace));
  EXPECT_GT(t["traceEvents"].size(), 50u);
  fs::remove(trace);
}

TEST(ServeCli, FindMaxRateReportsTheRate) {
  const CliResult r = run(k70b +
                          "--scheduler chunked --num-requests 300 --input-len uniform:512:1024 "
                          "--output-len fixed:128 --find-max-rate --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.contains("max_rate_requests_per_s"));
  EXPECT_GT(j["max_rate_requests_per_s"].get<double>(), 0.0);
  EXPECT_TRUE(j["slo_met"].get<bool>());
  EXPECT_LE(j["ttft_s"]["p99"].get<double>(), 2.0);
}

TEST(ServeCli, BadInputIsOneLineAndExitStatusTwo) {
  struct Case {
    std::string args;
    std::string error;
  };
  const fs::path bad = kServeData / "bad_field.csv";
  const std::vector<Case> cases = {
      {k70b + "--rate 0",
       "xpusim: command line: --rate: expected a rate from 1e-06 to 1e+06 requests/s, got 0\n"},
      {k70b + "--requests-file " + bad.string(),
       "xpusim: " + bad.string() +
           ": line 3: input_tokens: expected an integer from 1 to 16777216, got 'abc'\n"},
      {"--model llama-2-70b --hw h100-sxm --devices 16 --tp 8 --offline",
       "xpusim: command line: --devices: expected --replicas x --tp x --pp = 1 x 8 x 1 = 8, got "
       "16\n"},
      {k70b + "--offline --rate 3",
       "xpusim: command line: --rate: expected exactly one of --rate, --concurrency, --offline "
       "and --requests-file, got 2\n"},
      {k70b + "--offline --input-len fixed:4096",
       "xpusim: command line: --input-len: no request fits: the shortest needs input + output - "
       "1 = 4351 positions and the model's context is 4096 tokens\n"},
  };
  for (const auto& c : cases) {
    const CliResult r = run(c.args);
    EXPECT_EQ(r.status, 2) << c.args;
    EXPECT_EQ(r.err, c.error) << c.args;
  }
  const CliResult both = run(k70b + "--find-max-rate --rate 3");
  EXPECT_EQ(both.status, 2);
  EXPECT_EQ(both.err,
            "xpusim: command line: --find-max-rate: searches the Poisson rate itself: give none of "
            "--rate, --concurrency, --offline and --requests-file\n");
}

}  // namespace
}  // namespace xpusim

namespace xpusim {
namespace {

TEST(ServeCapacity, TheMaxRateMeetsTheObjectivesAndAHigherOneDoesNot) {
  ServeConfig c = small_config(1.0, 400);
  c.slo.ttft = Seconds(0.5);
  c.slo.tpot = Seconds(0.03);
  const MaxRateResult found = find_max_rate(c);
  ASSERT_TRUE(found.met);
  EXPECT_GT(found.max_rate_requests_per_s, 0.0);
  EXPECT_TRUE(meets_slo(c, found.at_max));
  EXPECT_LE(found.at_max.ttft.p99, c.slo.ttft);
  EXPECT_LE(found.at_max.tpot.p99, c.slo.tpot);
  // A tenth more load breaks an objective (bisection to 2%).
  ServeConfig above = c;
  above.workload.rate_per_s = found.max_rate_requests_per_s * 1.1;
  EXPECT_FALSE(meets_slo(c, simulate(above)));
}

TEST(ServeCapacity, AnObjectiveNoRateMeetsIsAnAnswerWithTheClosest) {
  ServeConfig c = small_config(1.0, 200);
  c.slo.ttft = Seconds(1e-6);
  const MaxRateResult found = find_max_rate(c);
  EXPECT_FALSE(found.met);
  EXPECT_GT(found.lowest_rate_probed, 0.0);
  EXPECT_GT(found.at_max.ttft.p99, c.slo.ttft);
  EXPECT_EQ(found.at_max.completed, 200);
}

}  // namespace
}  // namespace xpusim

namespace xpusim {
namespace {

TEST(ServePlan, CheapestFirstAndAParetoFrontNothingDominates) {
  PlanRequest request;
  request.base = small_config(1.0, 150);
  request.rate_requests_per_s = 6.0;
  request.accelerators = {testing::hw("h100-sxm"), testing::hw("a100-sxm-80gb"),
                          testing::hw("l40s")};
  const PlanResult plan = plan_deployment(request);
  ASSERT_FALSE(plan.candidates.empty());
  const PlanCandidate& best = plan.candidates.front();
  ASSERT_TRUE(best.meets);
  ASSERT_TRUE(best.usd_per_hour.has_value());
  EXPECT_TRUE(meets_slo(request.base, best.at_rate));
  bool any_pareto = false;
  for (std::size_t i = 0; i < plan.candidates.size(); ++i) {
    const PlanCandidate& c = plan.candidates[i];
    if (!c.meets || !c.usd_per_hour) continue;
    EXPECT_LE(*best.usd_per_hour, *c.usd_per_hour);
    if (!c.pareto) continue;
    any_pareto = true;
    for (const PlanCandidate& d : plan.candidates) {
      if (!d.meets || !d.usd_per_hour || &d == &c) continue;
      const bool dominates =
          *d.usd_per_hour < *c.usd_per_hour && d.at_rate.tpot.p99 < c.at_rate.tpot.p99;
      EXPECT_FALSE(dominates) << d.hw->id << " dominates " << c.hw->id;
    }
  }
  EXPECT_TRUE(any_pareto);
  EXPECT_GT(plan.simulations, 0);
}

TEST(ServePlan, ARateOfZeroIsAnError) {
  PlanRequest request;
  request.base = small_config(1.0, 50);
  request.rate_requests_per_s = 0.0;
  EXPECT_THROW((void)plan_deployment(request), Error);
}

}  // namespace
}  // namespace xpusim

namespace xpusim {
namespace {

// ---- prefill/decode disaggregation ----

ServeConfig disaggregated(ServeConfig c, int prefill, int decode) {
  c.scheduler = SchedulerKind::kDisaggregated;
  c.prefill_replicas = prefill;
  c.decode_replicas = decode;
  return c;
}

TEST(ServeDisaggregation, SeparatePoolsLowerTheTailTimePerTokenUnderLongPrompts) {
  // Long prompts stall every decode of a colocated replica while they prefill; a decode-only
  // replica never waits for a prompt (DistServe, Splitwise). Same devices: 2 replicas vs 1 + 1.
  ServeConfig continuous = small_config(1.0, 600);
  continuous.model = testing::model("llama-3.1-8b");
  continuous.workload.input = parse_length_distribution("uniform:6000:12000", "--input-len");
  continuous.replicas = 2;
  continuous.load_balancer = LoadBalancer::kLeastOutstanding;
  const ServeConfig split = disaggregated(
      [&] {
        ServeConfig c = continuous;
        c.replicas = 1;
        return c;
      }(),
      1, 1);
  EXPECT_EQ(devices_of(split), devices_of(continuous));
  const ServeResult c = simulate(continuous);
  const ServeResult d = simulate(split);
  EXPECT_EQ(d.completed, 600);
  EXPECT_LT(d.tpot.p99.value(), 0.85 * c.tpot.p99.value());
  ASSERT_TRUE(d.disaggregation.has_value());
  EXPECT_EQ(d.disaggregation->transfers, 600);
  EXPECT_TRUE(d.disaggregation->scale_up);  // 2 devices inside the 8 of an HGX node
  EXPECT_FALSE(c.disaggregation.has_value());
}

TEST(ServeDisaggregation, EveryRequestFinishesAndNeitherPoolOverflows) {
  for (const int pp : {1, 2}) {
    ServeConfig c = disaggregated(small_config(40.0, 800), 2, 1);  // past saturation
    c.pipeline_parallel = pp;
    c.limits.gpu_memory_utilization = 0.3;  // decode runs out of blocks and preempts
    c.workload.input = parse_length_distribution("lognormal:1500:1200", "--input-len");
    c.workload.output = parse_length_distribution("uniform:1:512", "--output-len");
    const ServeResult r = simulate(c);
    ASSERT_TRUE(r.disaggregation.has_value());
    const DisaggregationStats& d = *r.disaggregation;
    EXPECT_EQ(r.completed + r.dropped, r.requests) << pp;
    EXPECT_GT(r.dropped, 0) << pp;
    EXPECT_LE(d.prefill_kv_blocks_max_used, r.kv_cache.blocks_per_engine) << pp;
    EXPECT_LE(d.decode_kv_blocks_max_used, r.kv_cache.blocks_per_engine) << pp;
    EXPECT_GT(d.decode_kv_blocks_max_used, r.kv_cache.blocks_per_engine / 2) << pp;
    EXPECT_GT(d.prefill_kv_blocks_max_used, 0) << pp;
    EXPECT_GT(r.preemptions, 0) << pp;
    EXPECT_GT(d.transfers, 0) << pp;
    EXPECT_LE(d.transfers, r.completed) << pp;  // one-token requests end on the prefill side
  }
}

TEST(ServeDisaggregation, TheSameSeedGivesTheSameRun) {
  const ServeConfig c = disaggregated(small_config(12.0), 1, 2);
  const ServeResult a = simulate(c);
  const ServeResult b = simulate(c);
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.makespan.value(), b.makespan.value());
  EXPECT_EQ(a.tpot.p99.value(), b.tpot.p99.value());
  EXPECT_EQ(a.ttft.p99.value(), b.ttft.p99.value());
  EXPECT_EQ(a.disaggregation->transfer.mean.value(), b.disaggregation->transfer.mean.value());
  EXPECT_EQ(a.disaggregation->transfer.p99.value(), b.disaggregation->transfer.p99.value());
}

TEST(ServeDisaggregation, TransferTimeIsLatencyPlusTheCacheOverTheLink) {
  double previous = 0.0;
  for (const int64_t input : {500, 1000, 3000}) {
    ServeConfig c = disaggregated(small_config(2.0, 50), 1, 1);
    c.workload.input = parse_length_distribution("fixed:" + std::to_string(input), "--input-len");
    const ServeResult r = simulate(c);
    const double mean = r.disaggregation->transfer.mean.value();
    EXPECT_GT(mean, previous) << input;
    previous = mean;
    // Every device of the replica sends its share at once over the scale-up fabric, priced by
    // the one collective model.
    const Bytes bytes = r.kv_cache.bytes_per_token_per_device * static_cast<double>(input);
    const Seconds expected = collective_time(Collective::kPointToPoint, bytes,
                                             GroupPlacement{2, 2, true}, serving_system(c));
    EXPECT_NEAR(mean, expected.value(), 1e-12) << input;
    const double bandwidth =
        c.hw.scale_up_bandwidth.value() * c.hw.efficiency.scale_up_bandwidth_fraction;
    EXPECT_GE(mean, c.hw.scale_up_latency.value() + bytes.value() / bandwidth - 1e-12) << input;
  }
}

TEST(ServeDisaggregation, PastTheScaleUpDomainTheCacheCrossesTheScaleOutLink) {
  ServeConfig c = disaggregated(small_config(2.0, 50), 1, 1);
  c.model = testing::model("llama-2-70b");
  c.tensor_parallel = 8;  // 16 devices: two HGX nodes
  const ServeResult r = simulate(c);
  ASSERT_TRUE(r.disaggregation.has_value());
  EXPECT_FALSE(r.disaggregation->scale_up);
  c.hw = testing::hw("mi300x");  // no scale-out link in the catalog
  EXPECT_EQ(error_of([&] { (void)simulate(c); }),
            "default system of mi300x: scale_out.bandwidth_bytes_per_s: 16 devices exceed one "
            "8-device scale-up domain, and the chip's file gives no scale-out bandwidth; write a "
            "system file");
}

TEST(ServeDisaggregation, PoolFlagsAreCheckedOnTheCommandLine) {
  struct Case {
    std::string args;
    std::string error;
  };
  const std::string m = "--model llama-2-7b --hw h100-sxm --offline --num-requests 10 ";
  const std::vector<Case> cases = {
      {m + "--scheduler disaggregated --prefill-replicas 1 --decode-replicas 3 --devices 3",
       "xpusim: command line: --devices: expected (--prefill-replicas + --decode-replicas) x --tp "
       "x --pp = (1 + 3) x 1 x 1 = 4, got 3\n"},
      {m + "--scheduler disaggregated --replicas 2 --decode-replicas 3",
       "xpusim: command line: --replicas: not with --scheduler disaggregated: give "
       "--prefill-replicas and --decode-replicas\n"},
      {m + "--scheduler chunked --decode-replicas 3",
       "xpusim: command line: --decode-replicas: only with --scheduler disaggregated\n"},
      {m + "--scheduler disaggregated --prefill-replicas 0",
       "xpusim: command line: --prefill-replicas: expected 1 to 4096, got 0\n"},
  };
  for (const auto& c : cases) {
    const CliResult r = run(c.args);
    EXPECT_EQ(r.status, 2) << c.args;
    EXPECT_EQ(r.err, c.error) << c.args;
  }
  const CliResult ok = run(m +
                           "--scheduler disaggregated --prefill-replicas 1 --decode-replicas 3 "
                           "--devices 4 --format json");
  ASSERT_EQ(ok.status, 0) << ok.err;
  const auto j = nlohmann::json::parse(ok.out);
  EXPECT_EQ(j["devices"], 4);
  EXPECT_EQ(j["completed"], 10);
  EXPECT_EQ(j["kv_transfers"], 10);
  for (const char* stat : {"mean", "p50", "p90", "p99"}) {
    EXPECT_GT(j["kv_transfer_s"][stat].get<double>(), 0.0) << stat;
  }
}

}  // namespace
}  // namespace xpusim

namespace xpusim {
namespace {

// ---- preemption by swap ----

TEST(ServePreemption, SwapFinishesEveryRequestWithoutRecomputingPrompts) {
  for (const auto scheduler : {SchedulerKind::kContinuous, SchedulerKind::kChunked}) {
    ServeConfig recompute = small_config(40.0, 800);  // past saturation
    recompute.scheduler = scheduler;
    recompute.limits.gpu_memory_utilization = 0.3;  // decode runs out of blocks and preempts
    ServeConfig swap = recompute;
    swap.limits.preemption = Preemption::kSwap;
    const ServeResult r = simulate(recompute);
    const ServeResult s = simulate(swap);
    EXPECT_EQ(s.completed + s.dropped, s.requests);
    EXPECT_EQ(s.completed, r.completed);
    EXPECT_LE(s.kv_blocks_max_used, s.kv_cache.blocks_per_engine);
    EXPECT_GT(r.preemptions, 0);
    // The same cache pressure preempts about as often either way.
    EXPECT_GT(s.preemptions, r.preemptions / 2);
    EXPECT_LT(s.preemptions, r.preemptions * 2);
    // Recompute prefills the prompts (and generated tokens) of preempted sequences again; swap
    // prefills every prompt exactly once.
    EXPECT_GT(r.prefill_tokens_processed, r.prompt_tokens);
    EXPECT_EQ(s.prefill_tokens_processed, s.prompt_tokens);
  }
}

}  // namespace
}  // namespace xpusim
