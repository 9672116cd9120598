#pragma once
// The online serving simulator: a discrete-event simulation of model replicas behind a load
// balancer, each running an engine loop (static, continuous or chunked-prefill batching) over a
// paged KV cache, every iteration timed by the operator cost model (docs/model.md, "Serving
// simulator"). `simulate` is a pure function of its configuration: searches over rates or
// deployments call it many times.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xpusim/core/dtype.hpp"
#include "xpusim/core/units.hpp"
#include "xpusim/econ/economics.hpp"
#include "xpusim/hw/accelerator.hpp"
#include "xpusim/model/model.hpp"
#include "xpusim/serve/workload.hpp"

namespace xpusim {

/// How an engine forms each iteration's batch.
enum class SchedulerKind {
  kStatic,      ///< a batch is admitted, prefilled, then decoded until its last request ends
  kContinuous,  ///< iteration-level batching, whole prompts first, decode otherwise (vLLM v0)
  kChunked,     ///< a token budget per iteration: running sequences first, then prompt chunks
                ///< (Sarathi-Serve, vLLM with chunked prefill)
};

/// How requests are spread over replicas.
enum class LoadBalancer { kRoundRobin, kLeastOutstanding };

/// Engine limits; defaults are vLLM's (EngineArgs: max_num_seqs 256, max_num_batched_tokens
/// 8192 with chunked prefill, block_size 16, gpu_memory_utilization 0.9, watermark 0.01).
struct EngineLimits {
  int64_t max_num_seqs = 256;           ///< sequences running at once per engine
  int64_t max_batched_tokens = 8192;    ///< tokens per iteration (the chunked token budget)
  int64_t block_size = 16;              ///< tokens per KV-cache block
  double gpu_memory_utilization = 0.9;  ///< share of device memory the engine may use
  double watermark = 0.01;              ///< share of blocks kept free when admitting a prompt
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
  int replicas = 1;
  DType weight_dtype = DType::kBf16;
  DType kv_dtype = DType::kBf16;
  SchedulerKind scheduler = SchedulerKind::kContinuous;
  LoadBalancer load_balancer = LoadBalancer::kRoundRobin;
  EngineLimits limits;
  Workload workload;
  Slo slo;
  bool record_iterations = false;  ///< keep every iteration (for --trace)
};

[[nodiscard]] int devices_of(const ServeConfig& config);

/// Mean and percentiles (nearest rank) of one per-request metric.
struct LatencySummary {
  Seconds mean, p50, p90, p99;
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

struct ServeResult {
  uint64_t seed = 0;
  int64_t requests = 0;
  int64_t completed = 0;
  int64_t dropped = 0;  ///< longer than the model's context or than a whole engine's cache
  int64_t preemptions = 0;
  int64_t iterations = 0;
  int64_t prompt_tokens = 0;     ///< of completed requests
  int64_t generated_tokens = 0;  ///< of completed requests
  Seconds makespan;              ///< first arrival to last completion
  double throughput_requests_per_s = 0.0;
  double throughput_tokens_per_s = 0.0;  ///< generated tokens
  LatencySummary queueing, ttft, tpot, e2e;
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
  std::vector<TimelinePoint> timeline;         ///< at most a few hundred points
  std::vector<IterationRecord> iteration_log;  ///< when record_iterations
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
