// MLPerf scenarios and dataset-shaped lengths on the serving simulator: (input, output) pairs
// drawn with their pairing kept, LoadGen's run sizes, the search's bracket above a finite run,
// and the two MLPerf v4.0 H100 records within their tolerance.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "test_files.hpp"
#include "test_support.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/report/report.hpp"
#include "xpusim/serve/capacity.hpp"
#include "xpusim/serve/mlperf.hpp"
#include "xpusim/serve/simulator.hpp"
#include "xpusim/serve/workload.hpp"
#include "xpusim/validate/validation.hpp"

namespace xpusim {
namespace {

namespace fs = std::filesystem;
const fs::path kServeData = fs::path(XPUSIM_TEST_DATADIR) / "serve";

using testing::error_of;

TEST(ServeLengths, PairsAreDrawnTogether) {
  Workload w;
  w.arrival = ArrivalKind::kOffline;
  w.num_requests = 400;
  w.pairs = load_length_pairs(kServeData / "pairs.csv");
  ASSERT_EQ(w.pairs.size(), 2u);
  std::set<int64_t> inputs;
  for (const RequestSpec& r : generate_requests(w)) {
    // Only the file's two pairs, never a mix of one's input with the other's output.
    EXPECT_TRUE((r.input_tokens == 10 && r.output_tokens == 300) ||
                (r.input_tokens == 500 && r.output_tokens == 7))
        << r.input_tokens << "," << r.output_tokens;
    inputs.insert(r.input_tokens);
  }
  EXPECT_EQ(inputs.size(), 2u);
  const MeanLengths mean = mean_lengths(w);
  EXPECT_DOUBLE_EQ(mean.input, 255.0);
  EXPECT_DOUBLE_EQ(mean.output, 153.5);
}

TEST(ServeLengths, ABadLineIsNamed) {
  EXPECT_EQ(error_of([] { (void)load_length_pairs(kServeData / "bad_pairs.csv"); }),
            (kServeData / "bad_pairs.csv").string() +
                ": line 3: output_length: expected an integer from 1 to 16777216, got 'x'");
}

TEST(ServeLengths, APoissonRunLastsAtLeastItsMinimumDuration) {
  Workload w;
  w.rate_per_s = 50.0;
  w.num_requests = 10;
  w.min_duration_s = 600.0;
  const auto requests = generate_requests(w);
  EXPECT_GE(requests.back().arrival_s, 600.0);
  EXPECT_NEAR(static_cast<double>(requests.size()), 30000.0, 600.0);  // about 600 s x 50/s
}

TEST(Mlperf, TheLlama2SampleSetIsScaledToTheModelsOwnOutputMean) {
  const MlperfBenchmark b = load_mlperf_benchmark("llama2-70b", testing::data_dir());
  EXPECT_EQ(b.samples, 24576);
  EXPECT_EQ(b.server.ttft_p99, Seconds(2.0));
  EXPECT_EQ(b.server.tpot_p99, Seconds(0.2));
  ASSERT_TRUE(b.interactive);
  EXPECT_EQ(b.interactive->ttft_p99, Seconds(0.45));
  EXPECT_EQ(b.interactive->tpot_p99, Seconds(0.04));
  const MlperfSamples s = mlperf_samples(b);
  ASSERT_EQ(s.pairs.size(), 24576u);
  EXPECT_NEAR(s.mean_output_tokens, 294.45, 0.05);
  EXPECT_GT(s.output_scale, 294.45 / 218.9);  // the 1024 cap takes some back
  EXPECT_LE(std::max_element(s.pairs.begin(), s.pairs.end(),
                             [](const LengthPair& a, const LengthPair& b) {
                               return a.output_tokens < b.output_tokens;
                             })
                ->output_tokens,
            1024);
}

TEST(Mlperf, AnUnknownBenchmarkNamesTheKnownOnes) {
  const std::string e =
      error_of([] { (void)load_mlperf_benchmark("llama2-70", testing::data_dir()); });
  EXPECT_EQ(e, (testing::data_dir() / "mlperf").string() +
                   ": no MLPerf benchmark 'llama2-70' (did you mean: llama2-70b?); known: "
                   "llama2-70b, mixtral-8x7b");
}

ServeConfig h100_llama2(int64_t max_batch) {
  ServeConfig c;
  c.model = testing::model("llama-2-70b");
  c.hw = testing::hw("h100-sxm");
  c.tensor_parallel = 2;
  c.replicas = 4;
  c.weight_dtype = DType::kFp8;
  c.kv_dtype = DType::kFp8;
  c.limits.max_num_seqs = max_batch;
  c.limits.max_batched_tokens = 16384;
  return c;
}

TEST(Mlperf, OfflineIssuesLoadGensSampleCount) {
  const MlperfBenchmark b = load_mlperf_benchmark("llama2-70b", testing::data_dir());
  const MlperfRun run = run_mlperf(h100_llama2(896), b, MlperfScenario::kOffline, 76.0);
  // max(min_query_count 24576, 1.1 x 600 s x 76/s = 50160)
  EXPECT_EQ(run.samples_issued, 50160);
  EXPECT_TRUE(run.min_duration_met);
  EXPECT_GE(run.result.makespan, Seconds(600.0));
}

TEST(Mlperf, ServerRunsAtLeastTheMinimumDurationAndJudgesTheLimits) {
  const MlperfBenchmark b = load_mlperf_benchmark("llama2-70b", testing::data_dir());
  const MlperfRun slow = run_mlperf(h100_llama2(1024), b, MlperfScenario::kServer, 20.0);
  EXPECT_TRUE(slow.min_duration_met);
  EXPECT_GE(slow.samples_issued, 24576);  // 600 s x 20/s = 12000 < min_query_count
  EXPECT_TRUE(slow.latency_met);
  const MlperfRun fast = run_mlperf(h100_llama2(1024), b, MlperfScenario::kInteractive, 60.0);
  EXPECT_FALSE(fast.latency_met);  // 40 ms TPOT cannot hold at this load
}

TEST(ServeCapacity, TheSearchIsNotCappedByAFiniteOfflineRun) {
  // 64 requests: an offline run of them is mostly fill-up and drain, far below the rate the
  // deployment sustains; the search's upper bracket is the analytic bound instead.
  ServeConfig c = h100_llama2(256);
  c.workload.num_requests = 64;
  c.workload.min_duration_s = 60.0;
  c.workload.input = parse_length_distribution("fixed:200", "--input-len");
  c.workload.output = parse_length_distribution("fixed:300", "--output-len");
  ServeConfig offline = c;
  offline.workload.arrival = ArrivalKind::kOffline;
  offline.workload.min_duration_s = 0.0;
  const double finite = simulate(offline).throughput_requests_per_s;
  const double bound = throughput_bound_requests_per_s(c);
  EXPECT_GT(bound, finite);
  const MaxRateResult found = find_max_rate(c);
  ASSERT_TRUE(found.met);
  EXPECT_GT(found.max_rate_requests_per_s, finite);
  EXPECT_LT(found.max_rate_requests_per_s, 2.0 * bound);
}

TEST(Validation, MlperfH100RecordsWithinTheirTolerance) {
  const ValidationReport report = validate_inference(testing::data_dir());
  int mlperf = 0;
  for (const auto& o : report.outcomes) {
    if (o.id.rfind("mlperf-", 0) != 0) continue;
    ++mlperf;
    EXPECT_LE(std::abs(o.relative_error()), report.per_row_tolerance)
        << o.id << ": predicted " << o.predicted << " measured " << o.measured;
  }
  EXPECT_EQ(mlperf, 2);
  EXPECT_TRUE(report.not_covered.empty());
}

}  // namespace
}  // namespace xpusim

namespace xpusim {
namespace {

// Every record of the serving development set is either run or reported with the named
// features it needs: none is silently dropped.
TEST(Validation, ServingDevEveryRecordRunsOrNamesAMissingFeature) {
  const DevValidationReport report = validate_serving_dev(testing::data_dir());
  EXPECT_EQ(report.outcomes.size(), 48u);
  int counted = 0;
  for (const auto& o : report.outcomes) {
    EXPECT_TRUE(o.runs() || !o.missing.empty()) << o.id << ": " << o.detail;
    EXPECT_FALSE(o.tolerance_reason.empty()) << o.id;
    if (o.runs()) ++counted;
  }
  ASSERT_FALSE(report.summary.empty());
  EXPECT_EQ(report.summary.front().count, counted);
  EXPECT_GE(counted, 20);
}

// The issue's target: median |error| <= 10%, >= 80% of the records that run within 25%.
// Not met yet (2026-12-02, 22 records run): median 17.0%, 64% within 25%. Under-predictions
// where the engine runs larger batches than xpusim's vLLM defaults (max_num_seqs 256) on short
// prompts with long outputs (GB200/MI300X 128/2048: -31..-44%), gpt-oss-120b fp8 on one H200
// (-69%: the fp8 weights leave the cache 64 sequences) and the XQA blog's 8xH200 figure (-93%:
// its "per GPU" value looks like the node's total); see docs/validation-serving-dev.md.
TEST(Validation, DISABLED_ServingDevMeetsTheTarget) {
  const DevValidationReport report = validate_serving_dev(testing::data_dir());
  EXPECT_TRUE(report.target_met()) << "median " << report.summary.front().median_abs_error
                                   << ", within 25% " << report.share_within_target();
}

}  // namespace
}  // namespace xpusim

#include "xpusim/serve/metrics.hpp"

namespace xpusim {
namespace {

TEST(ServeMetrics, TheSketchIsExactBelowItsCapacityAndWithinHalfAPercentAbove) {
  QuantileSketch small;
  for (int i = 1; i <= 1000; ++i) small.add(static_cast<double>(i));
  EXPECT_EQ(small.quantile(0.99), 990.0);  // nearest rank
  EXPECT_EQ(small.quantile(0.50), 500.0);
  QuantileSketch large;
  const int n = 300'000;  // past the exact capacity
  for (int i = 1; i <= n; ++i) large.add(1e-3 * static_cast<double>(i));
  for (const double p : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = 1e-3 * std::ceil(p * n);
    EXPECT_NEAR(large.quantile(p), exact, 0.005 * exact) << p;
  }
  EXPECT_DOUBLE_EQ(large.mean(), 1e-3 * (n + 1) / 2.0);
}

TEST(ServeMetrics, BatchMeansGiveAnIntervalOnceEachBatchHasEnoughRequests) {
  BatchedMetric few(100);
  for (int i = 0; i < 100; ++i) few.add(i, 1.0 + 0.01 * i);
  EXPECT_EQ(few.percentile(0.99).half_width, Seconds(0.0));  // 5 per batch < 100 needed
  BatchedMetric many(20'000);
  std::mt19937_64 rng(3);
  std::exponential_distribution<double> d(1.0);
  for (int i = 0; i < 20'000; ++i) many.add(i, d(rng));
  const PercentileEstimate p99 = many.percentile(0.99);
  EXPECT_GT(p99.half_width, Seconds(0.0));
  EXPECT_LT(p99.half_width.value(), 0.2 * p99.value.value());
  EXPECT_NEAR(p99.value.value(), std::log(100.0), 0.3);  // exponential p99 = ln 100
}

ServeConfig closed_loop(int64_t requests) {
  ServeConfig c;
  c.model = testing::model("llama-2-7b");
  c.hw = testing::hw("h100-sxm");
  c.workload.arrival = ArrivalKind::kClosedLoop;
  c.workload.concurrency = 32;
  c.workload.num_requests = requests;
  c.workload.input = parse_length_distribution("uniform:256:1024", "--input-len");
  c.workload.output = parse_length_distribution("uniform:64:256", "--output-len");
  c.workload.seed = 5;
  return c;
}

TEST(ServeMetrics, WarmUpAndCoolDownAreLeftOutAndCounted) {
  ServeConfig c = closed_loop(600);
  const ServeResult all = simulate(c);
  c.warmup_requests = 100;
  c.cooldown_requests = 50;
  const ServeResult steady = simulate(c);
  EXPECT_EQ(steady.requests, 600);
  EXPECT_EQ(steady.completed, 600);
  EXPECT_EQ(steady.warmup_excluded, 100);
  EXPECT_EQ(steady.cooldown_excluded, 50);
  EXPECT_EQ(all.iterations, steady.iterations);  // the same run, measured differently
  // The start-up burst (every client's prompt at once) inflates the first requests' TTFT.
  EXPECT_LT(steady.ttft.mean, all.ttft.mean);
  EXPECT_LT(steady.generated_tokens, all.generated_tokens);
  c.warmup_requests = 600;
  EXPECT_EQ(error_of([&] { (void)simulate(c); }),
            "command line: --warmup-requests: 600 warm-up and 50 cool-down requests leave none "
            "of the run's 600 to measure");
}

TEST(ServeMetrics, AShortRunWarnsThatItsIntervalsAreWide) {
  const ServeResult r = simulate(closed_loop(200));
  EXPECT_NE(r.interval_warning.find("p99 TTFT"), std::string::npos) << r.interval_warning;
}

TEST(ServeMetrics, StreamedRequestsInReusedSlotsAreTheGeneratedOnes) {
  // The simulator draws requests one at a time and reuses finished requests' slots: every
  // generated request must still be served once, with its own lengths.
  const ServeConfig c = closed_loop(500);
  int64_t prompt = 0, output = 0;
  for (const RequestSpec& r : generate_requests(c.workload)) {
    prompt += r.input_tokens;
    output += r.output_tokens;
  }
  const ServeResult r = simulate(c);
  EXPECT_EQ(r.completed, 500);
  EXPECT_EQ(r.prompt_tokens, prompt);
  EXPECT_EQ(r.generated_tokens, output);
}

}  // namespace
}  // namespace xpusim
