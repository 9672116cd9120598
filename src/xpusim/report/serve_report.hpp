#pragma once
// Reports of the serving simulator: the JSON object of `xpusim serve`, its text form and the
// Chrome trace of every engine's iterations.

#include <nlohmann/json.hpp>
#include <string>

#include "xpusim/serve/capacity.hpp"
#include "xpusim/serve/mlperf.hpp"
#include "xpusim/serve/plan.hpp"
#include "xpusim/serve/simulator.hpp"

namespace xpusim {

[[nodiscard]] std::string_view to_string(Preemption preemption);

/// One object: the configuration echoed (seed included), throughput, latency summaries
/// (`ttft_s`, `tpot_s`, `e2e_latency_s`, `queueing_s`: mean, p50, p90, p99 and all 101
/// whole percentiles), goodput, KV cache
/// and batch statistics, energy and cost.
[[nodiscard]] nlohmann::json serve_json(const ServeConfig& config, const ServeResult& result);

/// The same as aligned text.
[[nodiscard]] std::string serve_text(const ServeConfig& config, const ServeResult& result);

/// `serve --find-max-rate`: the run at the highest rate that met the objectives with
/// `max_rate_requests_per_s`, or, when none did, `max_rate_requests_per_s: null` and the run at
/// the lightest load probed as the closest.
[[nodiscard]] nlohmann::json max_rate_json(const ServeConfig& config, const MaxRateResult& found);
[[nodiscard]] std::string max_rate_text(const ServeConfig& config, const MaxRateResult& found);

/// `serve --mlperf SCENARIO BENCHMARK`: LoadGen's summary (samples issued, samples/s, tokens/s,
/// whether the minimum duration and the latency limits were met) over the run's serve report.
[[nodiscard]] nlohmann::json mlperf_json(const ServeConfig& config, const MlperfRun& run);
[[nodiscard]] std::string mlperf_text(const ServeConfig& config, const MlperfRun& run);

/// `xpusim plan`: every candidate deployment (meeting ones by cost, Pareto front of cost against
/// p99 TPOT marked), and the cheapest.
[[nodiscard]] nlohmann::json plan_json(const PlanRequest& request, const PlanResult& result);
[[nodiscard]] std::string plan_text(const PlanRequest& request, const PlanResult& result);

/// Chrome Trace Event Format: one process per replica, one thread per virtual engine, one
/// complete event per iteration. Needs a result simulated with record_iterations.
[[nodiscard]] nlohmann::json serve_trace(const ServeConfig& config, const ServeResult& result);

}  // namespace xpusim
