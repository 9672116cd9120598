#pragma once
// MLPerf Inference scenarios on the serving simulator: a benchmark's sample set and LoadGen's
// rules (data/mlperf/*.yaml) turned into a run as long as a submission's, and the run judged as
// LoadGen judges it (docs/model.md, "MLPerf scenarios").

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xpusim/core/figures.hpp"
#include "xpusim/core/units.hpp"
#include "xpusim/serve/capacity.hpp"
#include "xpusim/serve/simulator.hpp"
#include "xpusim/serve/workload.hpp"

namespace xpusim {

enum class MlperfScenario {
  kOffline,      ///< one query of every sample at once; throughput counts
  kServer,       ///< Poisson queries at a target rate; p99 TTFT and TPOT within the limits
  kInteractive,  ///< the server scenario with the benchmark's interactive limits
};

[[nodiscard]] std::string_view to_string(MlperfScenario scenario);
/// "offline", "server" or "interactive"; nullopt otherwise.
[[nodiscard]] std::optional<MlperfScenario> parse_mlperf_scenario(std::string_view name);

/// A benchmark's p99 latency limits in one scenario.
struct MlperfLimits {
  Seconds ttft_p99;
  Seconds tpot_p99;
};

/// One benchmark as its data file states it.
struct MlperfBenchmark {
  std::string id;
  std::filesystem::path lengths_file;
  int64_t samples = 0;                             ///< the performance sample set
  std::optional<double> output_tokens_per_sample;  ///< the model's own mean output length
  std::optional<int64_t> max_output_tokens;
  Seconds min_duration;
  int64_t offline_min_query_count = 0;
  double offline_slack = 1.1;
  int64_t server_min_query_count = 0;
  MlperfLimits server;
  std::optional<MlperfLimits> interactive;
  std::vector<Figure> figures;
};

/// Loads `data_dir/mlperf/ID.yaml` (or a path), strictly; its lengths file must exist under
/// `data_dir/lengths/`.
[[nodiscard]] MlperfBenchmark load_mlperf_benchmark(const std::string& ref,
                                                    const std::filesystem::path& data_dir);

/// The benchmark's samples: the lengths file, with each output scaled by `output_scale` (see
/// mlperf_output_scale) and capped at max_output_tokens.
struct MlperfSamples {
  std::vector<LengthPair> pairs;
  double output_scale = 1.0;
  double mean_output_tokens = 0.0;  ///< after scaling and capping
};
[[nodiscard]] MlperfSamples mlperf_samples(const MlperfBenchmark& benchmark);

/// The limits of a latency-bound scenario (kServer, kInteractive); throws Error(kInput) when the
/// benchmark has no interactive limits.
[[nodiscard]] MlperfLimits mlperf_limits(const MlperfBenchmark& benchmark, MlperfScenario scenario);

/// What one MLPerf run gives, as LoadGen's summary reports it.
struct MlperfRun {
  MlperfScenario scenario = MlperfScenario::kOffline;
  std::string benchmark;
  int64_t samples_issued = 0;
  double samples_per_s = 0.0;  ///< offline: samples / duration; server: the scheduled rate
  double tokens_per_s = 0.0;   ///< generated tokens over the run's duration
  double target_qps = 0.0;     ///< server: the Poisson rate; offline: the expected rate used
  bool min_duration_met = false;
  bool latency_met = true;  ///< server: p99 TTFT and TPOT within the limits
  std::optional<MlperfLimits> limits;
  MlperfSamples lengths;
  ServeResult result;
  std::optional<MaxRateResult> search;  ///< server with no target rate: the search's outcome
};

/// Runs `scenario` of `benchmark` on the deployment of `base` (its workload is replaced).
/// Offline: `rate` is offline_expected_qps (nullopt: estimated from a run over the sample set);
/// server/interactive: `rate` is the target (nullopt: the highest rate within the limits).
[[nodiscard]] MlperfRun run_mlperf(const ServeConfig& base, const MlperfBenchmark& benchmark,
                                   MlperfScenario scenario, std::optional<double> rate);

}  // namespace xpusim
