#pragma once
// `xpusim plan`: the cheapest deployment that serves a request rate within latency objectives,
// searched over the accelerator catalog, tensor and expert parallelism per replica, the engine's
// batch limit, the number of replicas, and colocated against disaggregated prefill/decode pools.
// An analytical bound on each candidate (the most one replica can sustain, from the cost model
// alone) gives the fewest replicas it could need and so the least it could cost; candidates are
// simulated cheapest bound first, and those whose bound cannot compete are never simulated
// (docs/model.md, "Capacity planning").

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xpusim/core/progress.hpp"
#include "xpusim/serve/capacity.hpp"
#include "xpusim/stack/stack.hpp"

namespace xpusim {

struct PlanRequest {
  ServeConfig base;  ///< model, workload lengths, count, seed, scheduler, objectives, economics
  double rate_requests_per_s = 0.0;
  std::vector<AcceleratorSpec> accelerators;
  /// The serving stack of each accelerator (same order; empty or shorter: none modelled).
  std::vector<std::optional<StackSpec>> stacks;
  std::vector<int64_t> batch_limits = {64, 256};  ///< max_num_seqs values to try
  int max_replicas = 64;
  bool disaggregated = true;  ///< also try prefill and decode pools
  /// Candidates whose cost bound exceeds this many times the cheapest found are not simulated.
  double prune_factor = 1.5;
  unsigned threads = 0;
  /// Told after each round of simulations with the candidates done and in all; empty: nobody
  /// listens.
  ProgressFn progress;
};

/// What the cost model alone says about one replica of a candidate.
struct ReplicaBound {
  bool feasible = false;
  std::string reason;                    ///< when not feasible
  double max_rate_requests_per_s = 0.0;  ///< an upper bound, colocated
  double prefill_s_per_request = 0.0;    ///< engine time of one prompt at the best chunk rate
  double decode_s_per_request = 0.0;     ///< engine time of one request's decode at the batch
                                         ///< the TPOT objective allows
  int64_t decode_batch = 0;              ///< that batch
};

struct PlanCandidate {
  const AcceleratorSpec* hw = nullptr;
  int tensor_parallel = 1;
  int expert_parallel = 1;
  int64_t max_batch = 0;
  bool disaggregated = false;
  int replicas = 0;  ///< colocated replicas, or prefill + decode
  int prefill_replicas = 0;
  int decode_replicas = 0;
  ReplicaBound bound;
  std::optional<double> bound_usd_per_hour;  ///< the least the candidate could cost
  double per_replica_max_rate = 0.0;         ///< bound.max_rate_requests_per_s
  bool simulated = false;
  bool meets = false;   ///< the whole deployment, simulated at the rate, meets the objectives
  ServeResult at_rate;  ///< that simulation
  std::optional<double> usd_per_hour;  ///< the deployment: devices x the catalog's hourly price
  std::string cost_basis;
  std::string reason;   ///< why it was not considered (does not fit, no rate meets the SLO)
  bool pareto = false;  ///< no other candidate is both cheaper and lower in p99 TPOT

  [[nodiscard]] int devices() const { return replicas * tensor_parallel * expert_parallel; }
};

struct PlanResult {
  std::vector<PlanCandidate> candidates;  ///< meeting ones by cost, then the rest
  int simulations = 0;
  int pruned = 0;  ///< candidates the bound ruled out without a simulation
};

/// The analytical bound of one replica of `replica` (its tp, ep, limits and stack): prefill at
/// the rate of a full token budget, decode at the largest batch whose step meets the TPOT
/// objective and fits the cache. Infeasible when the weights do not fit, or one request alone
/// misses an objective. Throws nothing for a configuration the accelerator cannot run: that is a
/// reason.
[[nodiscard]] ReplicaBound bound_replica(const ServeConfig& replica, double mean_input,
                                         double mean_output);

[[nodiscard]] PlanResult plan_deployment(const PlanRequest& request);

}  // namespace xpusim
