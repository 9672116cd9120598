#pragma once
// Capacity planning on the simulator: the highest Poisson request rate a deployment sustains
// while the 99th percentiles of time to first token and time per output token stay within
// their objectives.

#include <optional>

#include "xpusim/serve/simulator.hpp"

namespace xpusim {

struct MaxRateResult {
  bool met = false;                      ///< some probed rate met the objectives
  double max_rate_requests_per_s = 0.0;  ///< the highest rate that met them (when met)
  ServeResult at_max;                    ///< the run at that rate, or at the lowest rate probed
  double lowest_rate_probed = 0.0;
  int probes = 0;
};

/// An upper bound on the request rate the deployment can sustain, from the cost model alone:
/// every decode engine running its largest batch (max_num_seqs, or as many mean-length
/// sequences as its KV cache holds) at the mean context, prompts free. Sustained rates lie
/// below it, so it brackets the search from above without a finite run's fill and drain.
[[nodiscard]] double throughput_bound_requests_per_s(const ServeConfig& config);

/// Bisection (geometric) between a rate far below the deployment's throughput bound and twice
/// that bound (raised further while it still meets the objectives), to 2% relative width. Latency
/// percentiles rise with the rate (a tested invariant of the simulator), which is what makes
/// bisection sound. The workload's arrival process is replaced by Poisson arrivals at each probed
/// rate; lengths, count and seed are kept, so every probe sees the same requests.
[[nodiscard]] MaxRateResult find_max_rate(const ServeConfig& config);

/// Whether a run's 99th percentiles of TTFT and TPOT meet the configuration's objectives.
[[nodiscard]] bool meets_slo(const ServeConfig& config, const ServeResult& result);

}  // namespace xpusim
