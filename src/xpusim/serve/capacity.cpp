#include "xpusim/serve/capacity.hpp"

#include <algorithm>
#include <cmath>

#include "xpusim/cost/operators.hpp"

namespace xpusim {

namespace {

constexpr double kRelativeWidth = 0.02;
constexpr int kMaxProbes = 40;
/// The search starts this far below the throughput bound.
constexpr double kLowestShareOfCapacity = 1.0 / 256.0;
/// And its upper bracket is this far above it: the bound takes mean lengths, and a batch of
/// shorter-than-mean sequences packs the cache tighter.
constexpr double kHighestShareOfBound = 2.0;
constexpr int kMaxRaises = 4;

ServeResult run_at(ServeConfig config, double rate) {
  config.workload.arrival = ArrivalKind::kPoisson;
  config.workload.rate_per_s = rate;
  config.record_iterations = false;
  return simulate(config);
}

}  // namespace

bool meets_slo(const ServeConfig& config, const ServeResult& r) {
  // A rate beyond what the deployment sustains builds a queue, which shows in the time to first
  // token: like MLPerf's server scenario, the 99th percentiles decide. Requests that can never
  // run (past the context or a whole engine's cache) are dropped at any rate; they are
  // reported, and do not decide the rate.
  return r.ttft.p99 <= config.slo.ttft && r.tpot.p99 <= config.slo.tpot;
}

double throughput_bound_requests_per_s(const ServeConfig& c) {
  const MeanLengths mean = mean_lengths(c.workload);
  const KvCacheSize kv = kv_cache_size(c);
  const double lifetime = std::max(1.0, mean.input + mean.output);
  const double cache_tokens =
      static_cast<double>(kv.blocks_per_engine) * static_cast<double>(c.limits.block_size);
  const auto batch = static_cast<int64_t>(std::clamp(std::floor(cache_tokens / lifetime), 1.0,
                                                     static_cast<double>(c.limits.max_num_seqs)));
  const auto context = static_cast<int64_t>(std::llround(mean.input + mean.output / 2.0));
  const IterationShape shape = IterationShape::uniform(c.model, {batch, 1, context});
  const Seconds step = cost_iteration(c.model, c.hw, deployment_of(c), shape).time;
  const int decode_replicas =
      c.scheduler == SchedulerKind::kDisaggregated ? c.decode_replicas : c.replicas;
  const double engines = static_cast<double>(decode_replicas) * c.pipeline_parallel;
  return engines * static_cast<double>(batch) / (step.value() * std::max(1.0, mean.output));
}

MaxRateResult find_max_rate(const ServeConfig& config) {
  const double bound = throughput_bound_requests_per_s(config);
  MaxRateResult out;
  double low = bound * kLowestShareOfCapacity;
  out.lowest_rate_probed = low;
  ServeResult at_low = run_at(config, low);
  out.probes = 1;
  if (!meets_slo(config, at_low)) {
    out.at_max = at_low;  // the closest the deployment gets: the lightest load probed
    return out;
  }
  out.met = true;
  out.max_rate_requests_per_s = low;
  out.at_max = at_low;
  double high = bound * kHighestShareOfBound;
  for (int raise = 0;; ++raise) {
    ServeResult at_high = run_at(config, high);
    ++out.probes;
    if (!meets_slo(config, at_high)) break;
    low = high;
    out.max_rate_requests_per_s = high;
    out.at_max = std::move(at_high);
    if (raise == kMaxRaises) return out;
    high *= 2.0;
  }
  while (high / low > 1.0 + kRelativeWidth && out.probes < kMaxProbes) {
    const double mid = std::sqrt(low * high);
    ServeResult r = run_at(config, mid);
    ++out.probes;
    if (meets_slo(config, r)) {
      low = mid;
      out.max_rate_requests_per_s = mid;
      out.at_max = std::move(r);
    } else {
      high = mid;
    }
  }
  return out;
}

}  // namespace xpusim
