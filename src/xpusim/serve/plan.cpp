#include "xpusim/serve/plan.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>

#include "xpusim/core/error.hpp"
#include "xpusim/core/parallel.hpp"

namespace xpusim {

namespace {

/// Simulations per candidate at most: the bound's replica counts, then one more where the run
/// misses an objective.
constexpr int kAttempts = 4;
/// Candidates simulated at once before the cheapest found prunes the rest.
constexpr std::size_t kRound = 8;
/// Expert-parallel groups tried up to this size, and replicas up to this many devices.
constexpr int kMaxExpertParallel = 64;
constexpr int kMaxReplicaDevices = 128;

/// Tensor-parallel degrees worth trying on `hw` for `model`: powers of two within the scale-up
/// domain that the model's dimensions allow.
std::vector<int> tp_choices(const ModelSpec& m, const AcceleratorSpec& hw) {
  std::vector<int> out;
  for (int tp = 1; tp <= hw.scale_up_domain_devices && tp <= 64; tp *= 2) {
    if (tensor_parallel_conflict(m, tp) == TensorParallelConflict::kNone) out.push_back(tp);
  }
  return out;
}

/// Expert-parallel degrees: 1, and for a MoE model the powers of two that divide its experts.
std::vector<int> ep_choices(const ModelSpec& m, int tp) {
  std::vector<int> out = {1};
  if (!m.moe) return out;
  for (int ep = 2; ep <= kMaxExpertParallel && tp * ep <= kMaxReplicaDevices; ep *= 2) {
    if (m.moe->num_experts % ep == 0) out.push_back(ep);
  }
  return out;
}

/// One replica of the candidate, colocated.
ServeConfig replica_config(const PlanRequest& request, const PlanCandidate& c,
                           const StackSpec* stack) {
  ServeConfig x = request.base;
  x.progress = nullptr;  // many run at once; the plan reports per round of candidates
  x.hw = *c.hw;
  x.system.reset();
  x.stack.reset();
  if (stack) x.stack = *stack;
  if (stack && stack->serving) x.limits = stack_limits(*stack->serving, x.limits);
  x.tensor_parallel = c.tensor_parallel;
  x.expert_parallel = c.expert_parallel;
  x.pipeline_parallel = 1;
  x.replicas = 1;
  x.limits.max_num_seqs = c.max_batch;
  x.load_balancer = LoadBalancer::kLeastOutstanding;
  x.record_iterations = false;
  return x;
}

/// The whole deployment of the candidate at the request's rate.
ServeConfig deployment_config(const PlanRequest& request, const PlanCandidate& c,
                              const StackSpec* stack) {
  ServeConfig x = replica_config(request, c, stack);
  if (c.disaggregated) {
    x.scheduler = SchedulerKind::kDisaggregated;
    x.prefill_replicas = c.prefill_replicas;
    x.decode_replicas = c.decode_replicas;
  } else {
    x.replicas = c.replicas;
  }
  x.workload.arrival = ArrivalKind::kPoisson;
  x.workload.rate_per_s = request.rate_requests_per_s;
  // Enough requests that every replica sees the load a replica of the bound would.
  x.workload.num_requests = request.base.workload.num_requests * c.replicas;
  return x;
}

IterationShape decode_batch(const ModelSpec& m, int64_t batch, int64_t context) {
  return IterationShape::uniform(m, {batch, 1, context});
}

/// The largest decode batch in [1, cap] whose step is within `limit` (the step grows with the
/// batch), or 0 when even one sequence's is not.
int64_t largest_batch_within(const ServeConfig& c, const SystemSpec& system, const Deployment& d,
                             int64_t cap, int64_t context, Seconds limit) {
  auto step = [&](int64_t batch) {
    return engine_step_time(c, system, d, decode_batch(c.model, batch, context));
  };
  if (step(1) > limit) return 0;
  if (step(cap) <= limit) return cap;
  int64_t low = 1, high = cap;  // step(low) within, step(high) not
  while (high - low > 1) {
    const int64_t mid = low + (high - low) / 2;
    (step(mid) <= limit ? low : high) = mid;
  }
  return low;
}

std::optional<double> hourly_per_device(const AcceleratorSpec& hw, const Economics& economics) {
  if (const auto hourly = hourly_cost(hw, economics)) return hourly->per_device.value();
  return std::nullopt;
}

}  // namespace

ReplicaBound bound_replica(const ServeConfig& c, double mean_input, double mean_output) {
  ReplicaBound b;
  KvCacheSize kv;
  try {
    validate_serve_config(c);
    kv = kv_cache_size(c);
  } catch (const Error& e) {
    b.reason = e.field().empty() ? e.what() : e.detail();
    return b;
  }
  const SystemSpec system = serving_system(c);
  const Deployment d = serving_deployment(c);
  const int ep = d.expert_parallel;
  const auto input = std::max<int64_t>(1, std::llround(mean_input));
  const auto output = std::max<int64_t>(1, std::llround(mean_output));
  // Prefill: at best a full token budget of prompts per step.
  const int64_t budget = c.limits.max_batched_tokens * ep;
  const int64_t prompts = std::max<int64_t>(1, budget / input);
  const Seconds chunk =
      engine_step_time(c, system, d, IterationShape::uniform(c.model, {prompts, input, 0}));
  b.prefill_s_per_request = chunk.value() / static_cast<double>(prompts);
  const Seconds alone =
      engine_step_time(c, system, d, IterationShape::uniform(c.model, {1, input, 0}));
  if (alone > c.slo.ttft) {
    b.reason = fmt::format("one prompt of {} tokens alone takes {:.3f} s, past the TTFT objective",
                           input, alone.value());
    return b;
  }
  // Decode: the largest batch the cache holds and the TPOT objective allows.
  const int64_t context = input + output / 2;
  const double cached = static_cast<double>(kv.blocks_per_engine * c.limits.block_size);
  const int64_t cap = std::clamp<int64_t>(
      static_cast<int64_t>(cached / static_cast<double>(context)), 1, c.limits.max_num_seqs * ep);
  b.decode_batch = largest_batch_within(c, system, d, cap, context, c.slo.tpot);
  if (b.decode_batch == 0) {
    b.reason = "one sequence's decode step alone is past the TPOT objective";
    return b;
  }
  const Seconds step =
      engine_step_time(c, system, d, decode_batch(c.model, b.decode_batch, context));
  b.decode_s_per_request =
      step.value() * static_cast<double>(output - 1) / static_cast<double>(b.decode_batch);
  b.max_rate_requests_per_s = 1.0 / (b.prefill_s_per_request + b.decode_s_per_request);
  b.feasible = true;
  return b;
}

namespace {

/// Replica counts the bound gives for the candidate: colocated, the rate over a replica's bound;
/// disaggregated, each pool's engine time per second of requests.
void size_from_bound(const PlanRequest& request, PlanCandidate& c) {
  const double rate = request.rate_requests_per_s;
  if (c.disaggregated) {
    c.prefill_replicas =
        std::max(1, static_cast<int>(std::ceil(rate * c.bound.prefill_s_per_request)));
    c.decode_replicas =
        std::max(1, static_cast<int>(std::ceil(rate * c.bound.decode_s_per_request)));
    c.replicas = c.prefill_replicas + c.decode_replicas;
  } else {
    c.replicas = std::max(1, static_cast<int>(std::ceil(rate / c.bound.max_rate_requests_per_s)));
  }
}

void bound_candidate(const PlanRequest& request, const StackSpec* stack, double input,
                     double output, PlanCandidate& c) {
  c.bound = bound_replica(replica_config(request, c, stack), input, output);
  c.per_replica_max_rate = c.bound.max_rate_requests_per_s;
  if (!c.bound.feasible) {
    c.reason = c.bound.reason;
    return;
  }
  size_from_bound(request, c);
  if (c.replicas > request.max_replicas) {
    c.reason =
        fmt::format("needs at least {} replicas, more than {}", c.replicas, request.max_replicas);
    return;
  }
  if (const auto per_device = hourly_per_device(*c.hw, request.base.economics)) {
    c.bound_usd_per_hour = *per_device * c.devices();
  } else {
    c.reason = "no price in the catalog";
  }
}

/// Simulates the deployment from the bound's replica counts, adding a replica to the pool
/// whose objective it misses.
void simulate_candidate(const PlanRequest& request, const StackSpec* stack, PlanCandidate& c,
                        std::atomic<int>& simulations) {
  c.simulated = true;
  for (int attempt = 0; attempt < kAttempts && c.replicas <= request.max_replicas; ++attempt) {
    const ServeConfig whole = deployment_config(request, c, stack);
    c.at_rate = simulate(whole);
    ++simulations;
    if (meets_slo(whole, c.at_rate)) {
      c.meets = true;
      break;
    }
    if (c.disaggregated) {
      if (c.at_rate.ttft.p99 > whole.slo.ttft) ++c.prefill_replicas;
      if (c.at_rate.tpot.p99 > whole.slo.tpot) ++c.decode_replicas;
      c.replicas = c.prefill_replicas + c.decode_replicas;
    } else {
      ++c.replicas;
    }
  }
  if (!c.meets) {
    c.reason = fmt::format("{} replicas still miss the objectives at the rate", c.replicas);
    return;
  }
  if (const auto hourly = hourly_cost(*c.hw, request.base.economics)) {
    c.usd_per_hour = hourly->per_device.value() * c.devices();
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

std::vector<PlanCandidate> enumerate(const PlanRequest& request) {
  std::vector<PlanCandidate> out;
  const ModelSpec& m = request.base.model;
  for (const auto& hw : request.accelerators) {
    for (int tp : tp_choices(m, hw)) {
      for (int ep : ep_choices(m, tp)) {
        for (int64_t limit : request.batch_limits) {
          for (int split = 0; split < (request.disaggregated ? 2 : 1); ++split) {
            PlanCandidate c;
            c.hw = &hw;
            c.tensor_parallel = tp;
            c.expert_parallel = ep;
            c.max_batch = limit;
            c.disaggregated = split == 1;
            out.push_back(c);
          }
        }
      }
    }
  }
  return out;
}

const StackSpec* stack_of(const PlanRequest& request, const PlanCandidate& c) {
  const auto i = static_cast<std::size_t>(c.hw - request.accelerators.data());
  if (i >= request.stacks.size() || !request.stacks[i]) return nullptr;
  return &*request.stacks[i];
}

}  // namespace

PlanResult plan_deployment(const PlanRequest& request) {
  if (!(request.rate_requests_per_s >= kMinRatePerS && request.rate_requests_per_s <= kMaxRatePerS))
    throw_field_error("rate_requests_per_s", rate_expectation(request.rate_requests_per_s));
  validate_slo(request.base.slo);
  PlanResult result;
  result.candidates = enumerate(request);
  auto& all = result.candidates;
  const MeanLengths mean = mean_lengths(request.base.workload);
  const double input = mean.input, output = mean.output;
  parallel_for(
      all.size(),
      [&](std::size_t i) {
        try {
          bound_candidate(request, stack_of(request, all[i]), input, output, all[i]);
        } catch (const Error& e) {  // a configuration this accelerator cannot run
          all[i].reason = e.field().empty() ? e.what() : e.detail();
        }
      },
      request.threads);

  // Cheapest bound first; a candidate whose bound is far above the cheapest found is pruned.
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].bound_usd_per_hour && all[i].reason.empty()) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return *all[a].bound_usd_per_hour < *all[b].bound_usd_per_hour;
  });
  std::atomic<int> simulations{0};
  std::optional<double> cheapest;
  std::size_t next = 0;
  while (next < order.size()) {
    if (cheapest && *all[order[next]].bound_usd_per_hour > request.prune_factor * *cheapest) break;
    const std::size_t end = std::min(order.size(), next + kRound);
    parallel_for(
        end - next,
        [&](std::size_t k) {
          PlanCandidate& c = all[order[next + k]];
          try {
            simulate_candidate(request, stack_of(request, c), c, simulations);
          } catch (const Error& e) {  // a configuration this accelerator cannot run
            c.reason = e.what();
          }
        },
        request.threads);
    for (std::size_t k = next; k < end; ++k) {
      const PlanCandidate& c = all[order[k]];
      if (c.meets && c.usd_per_hour)
        cheapest = std::min(cheapest.value_or(*c.usd_per_hour), *c.usd_per_hour);
    }
    next = end;
    if (request.progress)
      request.progress(
          ProgressUpdate{"plan", static_cast<int64_t>(next), static_cast<int64_t>(order.size())});
  }
  // The pruned are decided too: the last report is of all of them, as a listener expects.
  if (request.progress && next < order.size()) {
    const auto total = static_cast<int64_t>(order.size());
    request.progress(ProgressUpdate{"plan", total, total});
  }
  for (; next < order.size(); ++next) {
    PlanCandidate& c = all[order[next]];
    c.reason =
        fmt::format("pruned: at least ${:.2f}/hour by the bound, over {:g} x the cheapest found",
                    *c.bound_usd_per_hour, request.prune_factor);
    ++result.pruned;
  }
  for (const PlanCandidate& c : all) result.pruned += c.bound.feasible ? 0 : 1;
  result.simulations = simulations;
  mark_pareto(all);
  std::stable_sort(all.begin(), all.end(), [](const PlanCandidate& a, const PlanCandidate& b) {
    const bool priced_a = a.meets && a.usd_per_hour.has_value(),
               priced_b = b.meets && b.usd_per_hour.has_value();
    if (priced_a != priced_b) return priced_a;
    if (priced_a && *a.usd_per_hour != *b.usd_per_hour) return *a.usd_per_hour < *b.usd_per_hour;
    if (priced_a) return a.at_rate.tpot.p99 < b.at_rate.tpot.p99;  // equal cost: the faster
    return a.meets && !b.meets;
  });
  return result;
}

}  // namespace xpusim
