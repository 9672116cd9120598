// MLPerf Inference scenarios on the serving simulator (docs/model.md, "MLPerf scenarios").

#include "xpusim/serve/mlperf.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "xpusim/core/catalog.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/core/yaml_map.hpp"

namespace xpusim {

std::string_view to_string(MlperfScenario scenario) {
  switch (scenario) {
    case MlperfScenario::kOffline:
      return "offline";
    case MlperfScenario::kServer:
      return "server";
    case MlperfScenario::kInteractive:
      return "interactive";
  }
  return "";
}

std::optional<MlperfScenario> parse_mlperf_scenario(std::string_view name) {
  for (MlperfScenario s :
       {MlperfScenario::kOffline, MlperfScenario::kServer, MlperfScenario::kInteractive}) {
    if (to_string(s) == name) return s;
  }
  return std::nullopt;
}

namespace {

MlperfLimits read_limits(YamlMap& root, const std::string& key, FigureReader& figures) {
  YamlMap limits = root.required_map(key);
  MlperfLimits l;
  l.ttft_p99 = Seconds(figures.required(limits, "ttft_p99_s"));
  l.tpot_p99 = Seconds(figures.required(limits, "tpot_p99_s"));
  limits.finish({"ttft_p99_s", "tpot_p99_s"});
  return l;
}

std::filesystem::path benchmark_file(const std::string& ref, const std::filesystem::path& dir) {
  if (looks_like_path(ref)) return ref;
  const auto file = dir / (ref + ".yaml");
  if (std::filesystem::exists(file)) return file;
  const auto ids = catalog_ids(dir, ".yaml", "MLPerf benchmark");
  throw Error(Error::Kind::kNotFound,
              fmt::format("{}: no MLPerf benchmark '{}'{}; known: {}", dir.string(), ref,
                          did_you_mean(ref, ids), fmt::join(ids, ", ")));
}

/// Mean of the outputs scaled by `scale`, rounded, at least 1 and capped at `cap`.
double scaled_mean(const std::vector<LengthPair>& pairs, double scale, int64_t cap) {
  double sum = 0.0;
  for (const LengthPair& p : pairs) {
    const auto scaled = std::llround(static_cast<double>(p.output_tokens) * scale);
    sum += static_cast<double>(std::clamp<int64_t>(scaled, 1, cap));
  }
  return sum / static_cast<double>(pairs.size());
}

}  // namespace

MlperfBenchmark load_mlperf_benchmark(const std::string& ref,
                                      const std::filesystem::path& data_dir) {
  const auto file = benchmark_file(ref, data_dir / "mlperf");
  YamlMap root = YamlMap::load_file(file);
  const std::vector<Source> sources = read_sources(root);
  MlperfBenchmark b;
  FigureReader figures(sources, b.figures);
  b.id = root.required_string("id");
  const std::string lengths = root.required_string("lengths");
  b.lengths_file = data_dir / "lengths" / (lengths + ".csv");
  if (!std::filesystem::exists(b.lengths_file))
    root.fail("lengths", fmt::format("no file {}", b.lengths_file.string()));
  b.samples = figures.required_count(root, "samples");
  b.output_tokens_per_sample = figures.optional(root, "output_tokens_per_sample");
  if (const auto cap = figures.optional(root, "max_output_tokens"))
    b.max_output_tokens = static_cast<int64_t>(*cap);
  b.min_duration = Seconds(figures.required(root, "min_duration_s"));
  b.offline_min_query_count = figures.required_count(root, "offline_min_query_count");
  b.offline_slack = figures.required(root, "offline_slack");
  b.server_min_query_count = figures.required_count(root, "server_min_query_count");
  b.server = read_limits(root, "server", figures);
  if (root.has("interactive")) b.interactive = read_limits(root, "interactive", figures);
  root.finish({"id", "lengths", "sources", "samples", "output_tokens_per_sample",
               "max_output_tokens", "min_duration_s", "offline_min_query_count", "offline_slack",
               "server_min_query_count", "server", "interactive"});
  return b;
}

MlperfSamples mlperf_samples(const MlperfBenchmark& b) {
  MlperfSamples s;
  s.pairs = load_length_pairs(b.lengths_file);
  if (static_cast<int64_t>(s.pairs.size()) != b.samples) {
    throw_input_error(b.lengths_file.string(), "",
                      fmt::format("expected {} samples (the benchmark's sample set), got {}",
                                  b.samples, s.pairs.size()));
  }
  const int64_t cap = b.max_output_tokens.value_or(std::numeric_limits<int64_t>::max());
  if (b.output_tokens_per_sample) {
    // One factor for every sample, found by bisection: the capped mean rises with it.
    const double target = *b.output_tokens_per_sample;
    double low = 0.0, high = 64.0;
    for (int i = 0; i < 60; ++i) {
      const double mid = (low + high) / 2.0;
      (scaled_mean(s.pairs, mid, cap) < target ? low : high) = mid;
    }
    s.output_scale = (low + high) / 2.0;
  }
  for (LengthPair& p : s.pairs) {
    const auto scaled = std::llround(static_cast<double>(p.output_tokens) * s.output_scale);
    p.output_tokens = std::clamp<int64_t>(scaled, 1, cap);
  }
  s.mean_output_tokens = scaled_mean(s.pairs, 1.0, cap);
  return s;
}

MlperfLimits mlperf_limits(const MlperfBenchmark& b, MlperfScenario scenario) {
  switch (scenario) {
    case MlperfScenario::kOffline:
    case MlperfScenario::kServer:
      return b.server;
    case MlperfScenario::kInteractive:
      if (!b.interactive)
        throw_input_error(b.id, "interactive", "this benchmark has no interactive scenario");
      return *b.interactive;
  }
  return b.server;
}

namespace {

MlperfRun run_offline(ServeConfig c, const MlperfBenchmark& b, std::optional<double> rate,
                      MlperfRun run) {
  c.workload.arrival = ArrivalKind::kOffline;
  if (!rate) {
    // offline_expected_qps as a submitter would measure it: one pass over the sample set.
    c.workload.num_requests = b.samples;
    rate = simulate(c).throughput_requests_per_s;
  }
  run.target_qps = *rate;
  const double wanted = std::ceil(b.offline_slack * b.min_duration.value() * *rate);
  c.workload.num_requests =
      std::max<int64_t>(b.offline_min_query_count, static_cast<int64_t>(wanted));
  run.result = simulate(c);
  run.samples_issued = run.result.requests;
  run.samples_per_s = run.result.throughput_requests_per_s;
  run.tokens_per_s = run.result.throughput_tokens_per_s;
  run.min_duration_met = run.result.makespan >= b.min_duration;
  return run;
}

MlperfRun run_server(ServeConfig c, const MlperfBenchmark& b, std::optional<double> rate,
                     MlperfRun run) {
  const MlperfLimits limits = mlperf_limits(b, run.scenario);
  run.limits = limits;
  c.slo.ttft = limits.ttft_p99;
  c.slo.tpot = limits.tpot_p99;
  c.workload.arrival = ArrivalKind::kPoisson;
  c.workload.num_requests = b.server_min_query_count;
  c.workload.min_duration_s = b.min_duration.value();
  if (rate) {
    c.workload.rate_per_s = *rate;
    run.result = simulate(c);
    run.target_qps = *rate;
  } else {
    MaxRateResult found = find_max_rate(c);
    run.target_qps = found.met ? found.max_rate_requests_per_s : found.lowest_rate_probed;
    run.result = found.at_max;
    run.search = std::move(found);
  }
  run.latency_met = meets_slo(c, run.result);
  run.samples_issued = run.result.requests;
  // LoadGen's completed-samples rate follows the scheduled rate (70.42 of 70.98 scheduled in
  // NVIDIA's v4.0 H100 log): the drain after the last arrival is not in it. So: the target rate
  // times the share completed, and tokens at the run's mean output per completed sample.
  const ServeResult& r = run.result;
  const double completed = static_cast<double>(r.completed);
  run.samples_per_s =
      run.target_qps * completed / static_cast<double>(std::max<int64_t>(1, r.requests));
  run.tokens_per_s =
      completed > 0 ? run.samples_per_s * static_cast<double>(r.generated_tokens) / completed : 0.0;
  run.min_duration_met = run.result.makespan >= b.min_duration;
  return run;
}

}  // namespace

MlperfRun run_mlperf(const ServeConfig& base, const MlperfBenchmark& b, MlperfScenario scenario,
                     std::optional<double> rate) {
  MlperfRun run;
  run.scenario = scenario;
  run.benchmark = b.id;
  run.lengths = mlperf_samples(b);
  ServeConfig c = base;
  c.record_iterations = false;
  c.workload.trace.clear();
  c.workload.pairs = run.lengths.pairs;
  c.workload.pairs_source = b.lengths_file.string();
  c.workload.min_duration_s = 0.0;
  switch (scenario) {
    case MlperfScenario::kOffline:
      return run_offline(std::move(c), b, rate, std::move(run));
    case MlperfScenario::kServer:
    case MlperfScenario::kInteractive:
      return run_server(std::move(c), b, rate, std::move(run));
  }
  return run;
}

}  // namespace xpusim
