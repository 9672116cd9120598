#pragma once
// The online serving simulator: a discrete-event simulation of model replicas behind a load
// balancer, each running an engine loop (static, continuous or chunked-prefill batching) over a
// paged KV cache, every iteration timed by the operator cost model (docs/model.md, "Serving
// simulator"). `simulate` is a pure function of its configuration: searches over rates or
// deployments call it many times.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xpusim/core/dtype.hpp"
#include "xpusim/core/progress.hpp"
#include "xpusim/core/units.hpp"
#include "xpusim/cost/operators.hpp"
#include "xpusim/econ/economics.hpp"
#include "xpusim/hw/accelerator.hpp"
#include "xpusim/model/model.hpp"
#include "xpusim/serve/workload.hpp"

namespace xpusim {

/// How an engine forms each iteration's batch.
enum class SchedulerKind {
  kStatic,         ///< a batch is admitted, prefilled, then decoded until its last request ends
  kContinuous,     ///< iteration-level batching, whole prompts first, decode otherwise (vLLM v0)
  kChunked,        ///< a token budget per iteration: running sequences first, then prompt chunks
                   ///< (Sarathi-Serve, vLLM with chunked prefill)
  kDisaggregated,  ///< prefill replicas (chunked) hand each sequence's KV cache to decode
                   ///< replicas (continuous batching) (DistServe, Splitwise)
};

/// What happens to a sequence preempted when the cache runs out.
enum class Preemption {
  kRecompute,  ///< its blocks are freed and it prefills prompt and generated tokens again (vLLM)
  kSwap,       ///< its blocks are copied to host memory and back when it resumes
};

/// How requests are spread over replicas.
enum class LoadBalancer { kRoundRobin, kLeastOutstanding };

[[nodiscard]] std::string_view to_string(SchedulerKind kind);
[[nodiscard]] std::string_view to_string(LoadBalancer balancer);
/// "static", "continuous", "chunked" or "disaggregated"; nullopt otherwise.
[[nodiscard]] std::optional<SchedulerKind> parse_scheduler(std::string_view name);

/// Engine limits; defaults are vLLM's (EngineArgs: max_num_seqs 256, max_num_batched_tokens
/// 8192 with chunked prefill, block_size 16, gpu_memory_utilization 0.9, watermark 0.01).
struct EngineLimits {
  int64_t max_num_seqs = 256;           ///< sequences running at once per engine
  int64_t max_batched_tokens = 8192;    ///< tokens per iteration (the chunked token budget)
  int64_t block_size = 16;              ///< tokens per KV-cache block
  double gpu_memory_utilization = 0.9;  ///< share of device memory the engine may use
  double watermark = 0.01;              ///< share of blocks kept free when admitting a prompt
  Preemption preemption = Preemption::kRecompute;
};

/// Per-request latency objective for goodput; defaults are MLPerf Inference's Llama-2-70B
/// server limits (TTFT 2 s, TPOT 200 ms at the 99th percentile).
struct Slo {
  Seconds ttft{2.0};
  Seconds tpot{0.2};
};

struct ServeConfig {
  ModelSpec model;
  AcceleratorSpec hw;
  Economics economics;
  int tensor_parallel = 1;
  int pipeline_parallel = 1;  ///< stages per replica, run as this many virtual engines
  int replicas = 1;           ///< not with the disaggregated scheduler (must stay 1)
  int prefill_replicas = 1;   ///< disaggregated: replicas that run prompts only
  int decode_replicas = 1;    ///< disaggregated: replicas that decode only
  DType weight_dtype = DType::kBf16;
  DType kv_dtype = DType::kBf16;
  SchedulerKind scheduler = SchedulerKind::kContinuous;
  LoadBalancer load_balancer = LoadBalancer::kRoundRobin;
  EngineLimits limits;
  Workload workload;
  Slo slo;
  bool record_iterations = false;  ///< keep every iteration (for --trace)
  /// Steady state: the first and last requests (in arrival order) run but are left out of the
  /// latency statistics, goodput and throughput (genai-perf's and vLLM's warm-up).
  int64_t warmup_requests = 0;
  int64_t cooldown_requests = 0;
  ProgressFn progress;  ///< told as requests complete; empty: nobody listens
};

/// How each replica places and stores the model (tensor parallelism, data types).
[[nodiscard]] Deployment deployment_of(const ServeConfig& config);

/// Replicas in all: replicas, or prefill + decode replicas when disaggregated.
[[nodiscard]] int replicas_of(const ServeConfig& config);
/// Devices in all: replicas_of x tp x pp.
[[nodiscard]] int devices_of(const ServeConfig& config);

/// Assumed latency of a scale-out message (the catalog's accelerators give no scale-out
/// latency): HCA plus leaf/spine switch hops and NCCL proxy overhead, as data/systems/*.yaml.
inline constexpr Seconds kScaleOutLatency{5e-6};

/// Device-to-host link for swapped KV blocks, per device per direction (the catalog has no host
/// link): PCIe 5.0 x16, 32 GT/s x 16 lanes with 128b/130b encoding, about 63 GB/s, taken as
/// 64 GB/s nominal.
inline constexpr BytesPerSecond kHostLinkBandwidth{64e9};

/// The link a KV cache crosses from a prefill to a decode replica: the scale-up fabric when
/// all devices share one scale-up domain, else the device's scale-out link (with the scale-up
/// efficiency fraction, an estimate). Throws Error(kInput) when it needs a scale-out link the
/// accelerator does not have.
struct KvTransferLink {
  BytesPerSecond achievable;  ///< per device, per direction
  Seconds latency;
  bool scale_up = true;
};
[[nodiscard]] KvTransferLink kv_transfer_link(const ServeConfig& config);

/// Mean and percentiles (nearest rank; from a streaming sketch beyond 65,536 requests, within
/// 0.5%) of one per-request metric, each percentile with the half-width of its 95% confidence
/// interval from 20 batch means (0: too few requests for batches).
struct LatencySummary {
  Seconds mean, p50, p90, p99;
  Seconds p50_half_width, p90_half_width, p99_half_width;
  /// The value at each whole percent from 0 (the least) to 100 (the most): 101 values, the
  /// distribution's CDF at a bounded size; empty when there were no values.
  std::vector<double> percentiles;
};

/// One iteration of one engine, for the trace.
struct IterationRecord {
  double start_s = 0.0;
  double duration_s = 0.0;
  int32_t replica = 0;
  int32_t engine = 0;  ///< virtual engine (pipeline slot) inside the replica
  int32_t prefill_sequences = 0;
  int32_t decode_sequences = 0;
  int64_t new_tokens = 0;
  int64_t kv_blocks_used = 0;
};

/// A sample of the whole deployment's state over time.
struct TimelinePoint {
  double time_s = 0.0;
  double kv_utilization = 0.0;  ///< blocks in use over blocks in all engines
  int64_t running = 0;          ///< sequences running in all engines
};

/// KV-cache sizing of one engine.
struct KvCacheSize {
  int64_t blocks_per_engine = 0;
  Bytes bytes_per_token_per_device;
  Bytes free_per_device;  ///< memory left for the cache on each device
};

/// Prefill/decode disaggregation: the KV-cache hand-offs and each pool's peak cache use.
struct DisaggregationStats {
  int64_t transfers = 0;
  LatencySummary transfer;  ///< link time of one hand-off (latency + bytes / bandwidth)
  int64_t prefill_kv_blocks_max_used = 0;  ///< the most any prefill engine held at once
  int64_t decode_kv_blocks_max_used = 0;   ///< the most any decode engine held at once
  bool scale_up = true;                    ///< over the scale-up fabric (else scale-out)
};

struct ServeResult {
  uint64_t seed = 0;
  int64_t requests = 0;
  int64_t completed = 0;
  int64_t dropped = 0;          ///< longer than the model's context or than a whole engine's cache
  int64_t warmup_excluded = 0;  ///< first requests left out of the statistics
  int64_t cooldown_excluded = 0;  ///< last requests left out of the statistics
  int64_t preemptions = 0;
  int64_t prefill_tokens_processed = 0;  ///< prompt and recomputed tokens run through prefill
  int64_t iterations = 0;
  int64_t prompt_tokens = 0;     ///< of completed requests counted
  int64_t generated_tokens = 0;  ///< of completed requests counted
  Seconds makespan;              ///< first arrival to last completion of the requests counted
  double throughput_requests_per_s = 0.0;
  double throughput_tokens_per_s = 0.0;  ///< generated tokens
  LatencySummary queueing, ttft, tpot, e2e;
  /// Not empty when a TTFT or TPOT percentile's 95% interval is wider than 5% of it.
  std::string interval_warning;
  double goodput = 0.0;  ///< share of arrived requests that completed within the SLO
  double goodput_requests_per_s = 0.0;
  KvCacheSize kv_cache;
  int64_t kv_blocks_max_used = 0;    ///< the most any engine held at once
  double kv_utilization_mean = 0.0;  ///< time-weighted over the makespan, all engines
  double batch_size_mean = 0.0;      ///< sequences per iteration
  int64_t batch_size_max = 0;
  Joules energy_per_token;  ///< devices at TDP over the makespan, per generated token
  std::optional<double> cost_per_million_tokens_usd;
  std::string cost_basis;
  std::optional<DisaggregationStats> disaggregation;  ///< with the disaggregated scheduler
  std::vector<TimelinePoint> timeline;                ///< at most a few hundred points
  std::vector<IterationRecord> iteration_log;         ///< when record_iterations
};

/// Checks the configuration (parallelism against the model and device, limits, workload);
/// throws Error(kInput) naming the flag.
void validate_serve_config(const ServeConfig& config);

/// The KV cache of one engine: device memory times the utilization share, less weights,
/// activations of a full iteration and workspace. Throws Error(kInput) when nothing is left.
[[nodiscard]] KvCacheSize kv_cache_size(const ServeConfig& config);

/// Runs the simulation. Deterministic: the same configuration (seed included) gives a
/// bit-identical result. Throws Error(kInput) for an invalid configuration or a workload none of
/// whose requests can ever fit the cache.
[[nodiscard]] ServeResult simulate(const ServeConfig& config);

}  // namespace xpusim
