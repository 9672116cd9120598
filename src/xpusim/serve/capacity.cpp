#include "xpusim/serve/capacity.hpp"

#include <cmath>

namespace xpusim {

namespace {

constexpr double kRelativeWidth = 0.02;
constexpr int kMaxProbes = 40;
/// The search starts this far below the offline capacity.
constexpr double kLowestShareOfCapacity = 1.0 / 256.0;

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

MaxRateResult find_max_rate(const ServeConfig& config) {
  ServeConfig offline = config;
  offline.workload.arrival = ArrivalKind::kOffline;
  offline.record_iterations = false;
  const double capacity = simulate(offline).throughput_requests_per_s;

  MaxRateResult out;
  double low = capacity * kLowestShareOfCapacity;
  out.lowest_rate_probed = low;
  ServeResult at_low = run_at(config, low);
  out.probes = 2;
  if (!meets_slo(config, at_low)) {
    out.at_max = at_low;  // the closest the deployment gets: the lightest load probed
    return out;
  }
  out.met = true;
  out.max_rate_requests_per_s = low;
  out.at_max = at_low;
  double high = capacity;
  ServeResult at_high = run_at(config, high);
  ++out.probes;
  if (meets_slo(config, at_high)) {
    out.max_rate_requests_per_s = high;
    out.at_max = at_high;
    return out;
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
