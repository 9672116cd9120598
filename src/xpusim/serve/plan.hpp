#pragma once
// `xpusim plan`: the cheapest deployment that serves a request rate within latency objectives,
// searched over the accelerator catalog, tensor parallelism per replica, the engine's batch
// limit and the number of replicas, each candidate checked on the simulator.

#include <optional>
#include <string>
#include <vector>

#include "xpusim/serve/capacity.hpp"

namespace xpusim {

struct PlanRequest {
  ServeConfig base;  ///< model, workload lengths, count, seed, scheduler, objectives, economics
  double rate_requests_per_s = 0.0;
  std::vector<AcceleratorSpec> accelerators;
  std::vector<int64_t> batch_limits = {64, 256};  ///< max_num_seqs values to try
  int max_replicas = 64;
  unsigned threads = 0;
  ProgressFn progress;  ///< told as candidates are evaluated; empty: nobody listens
};

struct PlanCandidate {
  const AcceleratorSpec* hw = nullptr;
  int tensor_parallel = 1;
  int64_t max_batch = 0;
  int replicas = 0;
  double per_replica_max_rate = 0.0;
  bool meets = false;   ///< the whole deployment, simulated at the rate, meets the objectives
  ServeResult at_rate;  ///< that simulation
  std::optional<double> usd_per_hour;  ///< the deployment: devices x the catalog's hourly price
  std::string cost_basis;
  std::string reason;   ///< why it was not considered (does not fit, no rate meets the SLO)
  bool pareto = false;  ///< no other candidate is both cheaper and lower in p99 TPOT
};

struct PlanResult {
  std::vector<PlanCandidate> candidates;  ///< meeting ones by cost, then the rest
  int simulations = 0;
};

[[nodiscard]] PlanResult plan_deployment(const PlanRequest& request);

}  // namespace xpusim
