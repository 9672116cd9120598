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
#include "xpusim/stack/stack.hpp"
#include "xpusim/system/system.hpp"

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

/// Speculative decoding: each decode step verifies `draft_tokens` proposed tokens in one target
/// pass of draft_tokens + 1 tokens per sequence; a proposal is accepted with probability
/// `acceptance` independently of the others, so a step emits (1 - a^(k+1)) / (1 - a) tokens in
/// expectation (Leviathan et al. 2023). Proposals come from a draft model, or from the target's
/// own multi-token-prediction layers (`mtp_layers`, DeepSeek-V3's MTP: one transformer layer and
/// the shared head per proposed token).
struct Speculation {
  int draft_tokens = 0;  ///< 0: no speculation
  double acceptance = 0.0;
  std::optional<ModelSpec> draft_model;  ///< nullopt: MTP layers of the target
};

/// Expected tokens one speculative decode step emits: (1 - a^(k+1)) / (1 - a), k + 1 at a = 1.
[[nodiscard]] double expected_tokens_per_step(const Speculation& speculation);

struct ServeConfig {
  ModelSpec model;
  AcceleratorSpec hw;  ///< the accelerator (equal to system->accelerator when a system is given)
  /// Where the replicas run; nullopt: `default_system(hw)` with the nodes the deployment needs.
  std::optional<SystemSpec> system;
  /// The serving engine release (host time per step, engine defaults); nullopt: none modelled.
  std::optional<StackSpec> stack;
  Economics economics;
  int tensor_parallel = 1;
  int pipeline_parallel = 1;  ///< stages per replica, run as this many virtual engines
  /// Expert parallelism with attention data parallelism (DEP): a replica is tp x ep devices;
  /// attention runs in ep data-parallel groups of tp devices, each with its own share of the
  /// running sequences and of the KV cache, and the routed experts are split over the ep groups,
  /// tokens dispatched to them and combined back by all-to-alls on the system's fabrics.
  int expert_parallel = 1;
  int replicas = 1;          ///< not with the disaggregated scheduler (must stay 1)
  int prefill_replicas = 1;  ///< disaggregated: replicas that run prompts only
  int decode_replicas = 1;   ///< disaggregated: replicas that decode only
  /// Disaggregated: the decode pool's own parallelism (0: the same as the prefill pool's).
  int decode_tensor_parallel = 0;
  int decode_expert_parallel = 0;
  /// Prefix caching: the share of each prompt found in the cache (its prefill skipped; its
  /// blocks still counted against the cache, as if not shared), in [0, 1).
  double prefix_cache_hit_rate = 0.0;
  Speculation speculation;
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

/// The engine defaults of a serving stack (its max_num_seqs and max_num_batched_tokens) over
/// `limits`; the rest of `limits` is kept.
[[nodiscard]] EngineLimits stack_limits(const ServingStack& stack, EngineLimits limits);

/// The deployment of a pool of the configuration: its tp and ep, the formats, and the stack's
/// prefill attention kernel on this accelerator. `decode`: the disaggregated decode pool's.
[[nodiscard]] Deployment serving_deployment(const ServeConfig& config, bool decode = false);

/// Engine time of one iteration of `batch` (the whole replica engine's sequences) on `system`:
/// each of the deployment's ep attention groups runs an even share (load imbalance between them
/// is not modelled), plus the stack's host time per step. Without speculation, swaps or pipeline
/// transfers, which the simulator adds. Allocates nothing.
[[nodiscard]] Seconds engine_step_time(const ServeConfig& config, const SystemSpec& system,
                                       const Deployment& deployment, const IterationShape& batch);

/// Replicas in all: replicas, or prefill + decode replicas when disaggregated.
[[nodiscard]] int replicas_of(const ServeConfig& config);
/// Devices of one replica: tp x ep x pp (the decode pool's own when `decode` and disaggregated).
[[nodiscard]] int devices_per_replica(const ServeConfig& config, bool decode = false);
/// Devices in all: the sum over replicas of devices_per_replica.
[[nodiscard]] int devices_of(const ServeConfig& config);

/// The system the deployment runs on: `config.system` (grown to the devices the deployment
/// needs), or the accelerator's default system of as many nodes as it needs (a bare
/// accelerator is one node). Throws Error(kInput) when the devices exceed what can be built.
[[nodiscard]] SystemSpec serving_system(const ServeConfig& config);

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
  bool scale_up = true;  ///< every hand-off inside a scale-up domain (else some cross scale-out)
  KvCacheSize decode_kv_cache;  ///< the decode pool's engines (the prefill pool's: kv_cache)
};

struct ServeResult {
  uint64_t seed = 0;
  std::string system_id;     ///< the system it ran on (serving_system)
  int nodes_used = 0;        ///< of that system, up to the last replica's last device
  int devices_per_node = 0;  ///< of that system
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
/// throws Error(kInput) naming the field ("limits.block_size").
void validate_serve_config(const ServeConfig& config);

/// Checks that both objectives are in [1e-6, 3600] s (an hour to the first token is none);
/// throws naming the field ("slo.ttft").
void validate_slo(const Slo& slo);

/// The KV cache of one engine: device memory times the utilization share, less weights,
/// activations of a full iteration and workspace, over the replica's ep attention groups.
/// `decode`: the disaggregated decode pool's. Throws Error(kInput) when nothing is left.
[[nodiscard]] KvCacheSize kv_cache_size(const ServeConfig& config, bool decode = false);

/// Runs the simulation. Deterministic: the same configuration (seed included) gives a
/// bit-identical result. Throws Error(kInput) for an invalid configuration or a workload none of
/// whose requests can ever fit the cache.
[[nodiscard]] ServeResult simulate(const ServeConfig& config);

}  // namespace xpusim
