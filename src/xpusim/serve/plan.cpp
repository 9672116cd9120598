#include "xpusim/serve/plan.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <cmath>

#include "xpusim/core/error.hpp"
#include "xpusim/core/parallel.hpp"

namespace xpusim {

namespace {

/// Tensor-parallel degrees worth trying on `hw` for `model`: powers of two within the scale-up
/// domain that divide the heads (and the key/value heads, or stay below them).
std::vector<int> tp_choices(const ModelSpec& m, const AcceleratorSpec& hw) {
  std::vector<int> out;
  for (int tp = 1; tp <= hw.scale_up_domain_devices && tp <= 64; tp *= 2) {
    if (m.heads % tp != 0) continue;
    if (m.kv_heads >= tp && m.kv_heads % tp != 0) continue;
    const int64_t ffn = m.moe ? m.moe->expert_ffn_dim : m.ffn_dim;
    if (ffn % tp != 0) continue;
    out.push_back(tp);
  }
  return out;
}

void evaluate(const PlanRequest& request, PlanCandidate& c, std::atomic<int>& simulations) {
  ServeConfig replica = request.base;
  replica.progress = nullptr;  // many run at once; the plan reports per candidate
  replica.hw = *c.hw;
  replica.tensor_parallel = c.tensor_parallel;
  replica.pipeline_parallel = 1;
  replica.replicas = 1;
  replica.limits.max_num_seqs = c.max_batch;
  replica.load_balancer = LoadBalancer::kLeastOutstanding;
  try {
    (void)kv_cache_size(replica);  // the weights and one iteration must fit with room for a cache
  } catch (const Error& e) {
    c.reason = e.what();
    return;
  }
  const MaxRateResult one = find_max_rate(replica);
  simulations += one.probes;
  if (!one.met) {
    c.reason = fmt::format(
        "no rate meets the objectives on one replica (p99 TTFT {:.3f} s, TPOT {:.1f} ms at the "
        "lightest load)",
        one.at_max.ttft.p99.value(), one.at_max.tpot.p99.value() * 1e3);
    return;
  }
  c.per_replica_max_rate = one.max_rate_requests_per_s;
  // Replicas for the rate, then checked as a whole; one more while the check fails.
  c.replicas =
      static_cast<int>(std::ceil(request.rate_requests_per_s / one.max_rate_requests_per_s));
  for (int attempt = 0; attempt < 3 && c.replicas <= request.max_replicas;
       ++attempt, ++c.replicas) {
    ServeConfig whole = replica;
    whole.replicas = c.replicas;
    whole.workload.arrival = ArrivalKind::kPoisson;
    whole.workload.rate_per_s = request.rate_requests_per_s;
    // Enough requests that every replica sees the load the single-replica search saw.
    whole.workload.num_requests = request.base.workload.num_requests * c.replicas;
    c.at_rate = simulate(whole);
    ++simulations;
    if (meets_slo(whole, c.at_rate)) {
      c.meets = true;
      break;
    }
  }
  if (!c.meets) {
    c.reason = fmt::format("{} replicas still miss the objectives at the rate", c.replicas);
    return;
  }
  if (const auto hourly = hourly_cost(*c.hw, request.base.economics)) {
    c.usd_per_hour = hourly->per_device.value() * c.replicas * c.tensor_parallel;
    c.cost_basis = hourly->basis;
  }
}

void mark_pareto(std::vector<PlanCandidate>& all) {
  for (auto& a : all) {
    if (!a.meets || !a.usd_per_hour) continue;
    a.pareto = std::none_of(all.begin(), all.end(), [&](const PlanCandidate& b) {
      if (&a == &b || !b.meets || !b.usd_per_hour) return false;
      const bool no_worse =
          *b.usd_per_hour <= *a.usd_per_hour && b.at_rate.tpot.p99 <= a.at_rate.tpot.p99;
      const bool better =
          *b.usd_per_hour < *a.usd_per_hour || b.at_rate.tpot.p99 < a.at_rate.tpot.p99;
      return no_worse && better;
    });
  }
}

}  // namespace

PlanResult plan_deployment(const PlanRequest& request) {
  if (!(request.rate_requests_per_s > 0.0)) {
    throw_input_error(
        "command line", "--rate",
        fmt::format("expected a rate > 0 requests/s, got {}", request.rate_requests_per_s));
  }
  PlanResult result;
  for (const auto& hw : request.accelerators) {
    for (int tp : tp_choices(request.base.model, hw)) {
      for (int64_t limit : request.batch_limits) {
        PlanCandidate c;
        c.hw = &hw;
        c.tensor_parallel = tp;
        c.max_batch = limit;
        result.candidates.push_back(c);
      }
    }
  }
  std::atomic<int> simulations{0};
  ProgressMeter progress(request.progress, "plan", static_cast<int64_t>(result.candidates.size()));
  parallel_for(
      result.candidates.size(),
      [&](std::size_t i) {
        try {
          evaluate(request, result.candidates[i], simulations);
        } catch (const Error& e) {  // a configuration this accelerator cannot run
          result.candidates[i].reason = e.what();
        }
        progress.advance();
      },
      request.threads);
  result.simulations = simulations;
  mark_pareto(result.candidates);
  std::stable_sort(result.candidates.begin(), result.candidates.end(),
                   [](const PlanCandidate& a, const PlanCandidate& b) {
                     const bool priced_a = a.meets && a.usd_per_hour.has_value(),
                                priced_b = b.meets && b.usd_per_hour.has_value();
                     if (priced_a != priced_b) return priced_a;
                     if (priced_a) return *a.usd_per_hour < *b.usd_per_hour;
                     return a.meets && !b.meets;
                   });
  return result;
}

}  // namespace xpusim
