// The serving simulator's event loop and metrics (docs/model.md, "Serving simulator").

#include "xpusim/serve/simulator.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "xpusim/comm/group.hpp"
#include "xpusim/core/checked.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/cost/operators.hpp"
#include "xpusim/infer/inference.hpp"
#include "xpusim/serve/event_queue.hpp"
#include "xpusim/serve/metrics.hpp"
#include "xpusim/serve/scheduler.hpp"

namespace xpusim {

std::string_view to_string(SchedulerKind kind) {
  switch (kind) {
    case SchedulerKind::kStatic:
      return "static";
    case SchedulerKind::kContinuous:
      return "continuous";
    case SchedulerKind::kChunked:
      return "chunked";
    case SchedulerKind::kDisaggregated:
      return "disaggregated";
  }
  return "";
}

std::string_view to_string(Preemption preemption) {
  switch (preemption) {
    case Preemption::kRecompute:
      return "recompute";
    case Preemption::kSwap:
      return "swap";
  }
  return "";
}

std::string_view to_string(LoadBalancer balancer) {
  switch (balancer) {
    case LoadBalancer::kRoundRobin:
      return "round_robin";
    case LoadBalancer::kLeastOutstanding:
      return "least_outstanding";
  }
  return "";
}

std::optional<SchedulerKind> parse_scheduler(std::string_view name) {
  for (SchedulerKind kind : {SchedulerKind::kStatic, SchedulerKind::kContinuous,
                             SchedulerKind::kChunked, SchedulerKind::kDisaggregated}) {
    if (to_string(kind) == name) return kind;
  }
  return std::nullopt;
}

namespace {

using serve::BatchEntry;
using serve::Engine;
using serve::EventKind;
using serve::EventQueue;
using serve::Sequence;

constexpr std::size_t kTimelinePoints = 256;

[[noreturn]] void bad_field(const char* field, const std::string& what) {
  throw_field_error(field, what);
}

/// Problems of the expert-parallel, speculative and disaggregated options, still worded with
/// their flags (to move to fields, as bad_field's are).
[[noreturn]] void bad_flag(const char* flag, const std::string& what) {
  throw_input_error("command line", flag, what);
}

bool disaggregated(const ServeConfig& c) {
  return c.scheduler == SchedulerKind::kDisaggregated;
}

int devices_per_replica_of(const ServeConfig& c, int replica);

/// Where the replicas sit in the rank order: one after the other (the prefill pool first), a
/// replica that fits a scale-up domain but would straddle two moved to the next domain, as a
/// deployment places them (its tensor-parallel and expert-parallel groups then stay inside).
struct ReplicaLayout {
  std::vector<int> first_device;
  int devices = 0;  ///< up to the last replica's last device
};

ReplicaLayout replica_layout(const ServeConfig& c, int domain_devices) {
  const int domain = std::max(1, domain_devices);
  ReplicaLayout layout;
  const int replicas = disaggregated(c) ? c.prefill_replicas + c.decode_replicas : c.replicas;
  layout.first_device.reserve(static_cast<std::size_t>(std::max(replicas, 0)));
  for (int r = 0; r < replicas; ++r) {
    const int size = devices_per_replica_of(c, r);
    const int offset = layout.devices % domain;
    if (size <= domain && offset != 0 && offset + size > domain) layout.devices += domain - offset;
    layout.first_device.push_back(layout.devices);
    layout.devices += size;
  }
  return layout;
}

/// The pool's tensor- and expert-parallel degrees: the decode pool's own when it has them.
int pool_tp(const ServeConfig& c, bool decode) {
  return decode && disaggregated(c) && c.decode_tensor_parallel > 0 ? c.decode_tensor_parallel
                                                                    : c.tensor_parallel;
}
int pool_ep(const ServeConfig& c, bool decode) {
  return decode && disaggregated(c) && c.decode_expert_parallel > 0 ? c.decode_expert_parallel
                                                                    : c.expert_parallel;
}

}  // namespace

Deployment serving_deployment(const ServeConfig& c, bool decode) {
  InferenceRequest r;
  r.devices = pool_tp(c, decode);
  r.weight_dtype = c.weight_dtype;
  r.kv_dtype = c.kv_dtype;
  Deployment d = deployment_for(r);
  d.expert_parallel = pool_ep(c, decode);
  if (c.stack) {
    if (const auto family = architecture_family(c.hw.vendor, c.hw.architecture))
      d.attention_kernel = c.stack->kernels.attention_for(*family);
    if (c.stack->serving)
      d.decode_attention_bandwidth_fraction = c.stack->serving->decode_attention_bandwidth_fraction;
  }
  return d;
}

namespace {

/// An engine's limits: each of its ep attention groups schedules up to the configured limits
/// (SGLang's DP attention), so the replica's engine holds ep times as many.
EngineLimits engine_limits(const ServeConfig& c, bool decode) {
  EngineLimits l = c.limits;
  const int ep = pool_ep(c, decode);
  l.max_num_seqs *= ep;
  l.max_batched_tokens *= ep;
  return l;
}

/// What one attention group of tp devices runs when the engine's batch is spread evenly over
/// `groups` data-parallel groups (load imbalance between them is not modelled).
IterationShape per_group(IterationShape shape, int groups) {
  if (groups <= 1) return shape;
  const auto g = static_cast<int64_t>(groups);
  const double share = 1.0 / static_cast<double>(groups);
  shape.sequences = (shape.sequences + g - 1) / g;
  shape.new_tokens = (shape.new_tokens + g - 1) / g;
  shape.sampled = (shape.sampled + g - 1) / g;
  shape.attended_full *= share;
  shape.attended_sliding *= share;
  shape.kv_full *= share;
  shape.kv_sliding *= share;
  return shape;
}

/// Mean and percentiles, each with its batch-means half-width.
LatencySummary summarize(const BatchedMetric& m) {
  LatencySummary s;
  s.mean = Seconds(m.mean());
  const PercentileEstimate p50 = m.percentile(0.50), p90 = m.percentile(0.90),
                           p99 = m.percentile(0.99);
  s.p50 = p50.value;
  s.p90 = p90.value;
  s.p99 = p99.value;
  s.p50_half_width = p50.half_width;
  s.p90_half_width = p90.half_width;
  s.p99_half_width = p99.half_width;
  s.percentiles.reserve(101);
  for (int percent = 0; percent <= 100; ++percent)
    s.percentiles.push_back(m.quantile(percent / 100.0));
  return s;
}

/// One finished request's figures, held until it is known whether it is in the cool-down.
struct FinishedRequest {
  int64_t index = 0;
  double arrival = 0.0, first_scheduled = 0.0, first_token = 0.0, finish = 0.0;
  int64_t input = 0, output = 0;
};

/// Keeps at most kTimelinePoints samples at an even stride over the run, halving the kept
/// points and doubling the stride when full.
class TimelineSampler {
 public:
  TimelineSampler() { points_.reserve(kTimelinePoints); }
  void offer(const TimelinePoint& p) {
    if (count_++ % stride_ != 0) return;
    if (points_.size() == kTimelinePoints) {
      for (std::size_t i = 0; i < kTimelinePoints / 2; ++i) points_[i] = points_[2 * i];
      points_.resize(kTimelinePoints / 2);
      stride_ *= 2;
      if ((count_ - 1) % stride_ != 0) return;
    }
    points_.push_back(p);
  }
  std::vector<TimelinePoint> take() { return std::move(points_); }

 private:
  std::vector<TimelinePoint> points_;
  uint64_t stride_ = 1;
  uint64_t count_ = 0;
};

/// The run: requests, engines, the clock and the accumulated statistics.
class Simulation {
 public:
  explicit Simulation(const ServeConfig& c)
      : c_(c),
        system_(serving_system(c)),
        deployment_(serving_deployment(c)),
        decode_deployment_(serving_deployment(c, true)),
        kv_(kv_cache_size(c)),
        decode_kv_(disaggregated(c) ? kv_cache_size(c, true) : kv_),
        decode_limits_(engine_limits(c, true)),
        policy_(serve::make_policy(c.scheduler, engine_limits(c, false))),
        decode_policy_(serve::make_policy(SchedulerKind::kContinuous, decode_limits_)),
        disaggregated_(disaggregated(c)),
        tokens_per_step_(expected_tokens_per_step(c.speculation)),
        events_(static_cast<std::size_t>(replicas_of(c)) * c.pipeline_parallel + 16),
        stream_(c.workload),
        expected_(stream_.expected_count()),
        queueing_(measured_count()),
        ttft_(measured_count()),
        tpot_(measured_count()),
        e2e_(measured_count()),
        transfers_(expected_),
        progress_(c.progress, "serve", expected_) {
    fit_blocks_ = std::min(kv_.blocks_per_engine, decode_kv_.blocks_per_engine);
    const int pp = c.pipeline_parallel;
    const int replicas = replicas_of(c);
    entry_replicas_ = disaggregated_ ? c.prefill_replicas : c.replicas;
    engines_.reserve(static_cast<std::size_t>(replicas) * pp);
    for (int r = 0; r < replicas; ++r) {
      const bool decode_only = disaggregated_ && r >= entry_replicas_;
      for (int s = 0; s < pp; ++s) {
        Engine& e = engines_.emplace_back((decode_only ? decode_kv_ : kv_).blocks_per_engine,
                                          c.limits.block_size);
        e.replica = r;
        e.slot = s;
        e.decode_only = decode_only;
        e.running.reserve(static_cast<std::size_t>(c.limits.max_num_seqs));
        e.batch.reserve(static_cast<std::size_t>(c.limits.max_num_seqs));
      }
    }
    touched_.reserve(engines_.size());
    for (const Engine& e : engines_) total_blocks_ += static_cast<double>(e.pool.total());
    total_blocks_ = std::max(1.0, total_blocks_);
    replica_outstanding_.assign(static_cast<std::size_t>(replicas), 0);
    first_device_ = replica_layout(c, system_.scale_up.domain_devices).first_device;
    if (c.record_iterations) iteration_log_.reserve(1024);
    // A pipeline of pp stages passes each micro-batch's activations pp - 1 times.
    p2p_bytes_per_token_ =
        static_cast<double>(c.model.hidden) * bytes_per_element(deployment_.activation_dtype);
  }

  ServeResult run() {
    const bool closed = c_.workload.arrival == ArrivalKind::kClosedLoop;
    if (closed) {
      for (int64_t i = 0; i < c_.workload.concurrency && !stream_.done(); ++i) submit_next(0.0);
      start_touched(0.0);
    } else {
      pending_ = stream_.next();
      events_.push(pending_->arrival_s, EventKind::kArrival, 0);
    }
    while (!events_.empty()) {
      const serve::Event ev = events_.pop();
      const double now = ev.time;
      switch (ev.kind) {
        case EventKind::kArrival:
          while (pending_ && pending_->arrival_s <= now) {
            submit(*pending_, now);
            pending_ = stream_.done() ? std::nullopt : std::optional(stream_.next());
          }
          if (pending_) events_.push(pending_->arrival_s, EventKind::kArrival, 0);
          break;
        case EventKind::kIterationDone:
          complete_iteration(ev.index, now, closed);
          touched_.push_back(ev.index);
          break;
        case EventKind::kTransferDone:
          complete_transfer(ev.index);
          break;
      }
      start_touched(now);
      timeline_.offer({now, static_cast<double>(blocks_used_) / total_blocks_, running_});
    }
    return finish();
  }

 private:
  /// Requests the statistics count: all but the warm-up and cool-down.
  [[nodiscard]] int64_t measured_count() const {
    return std::max<int64_t>(1, expected_ - c_.warmup_requests - c_.cooldown_requests);
  }

  /// A slot for a new request: a finished one's, or a new one (so that memory follows the
  /// requests in flight, not the run's length).
  int32_t new_slot() {
    if (!free_slots_.empty()) {
      const int32_t id = free_slots_.back();
      free_slots_.pop_back();
      sequences_[id] = Sequence{};
      return id;
    }
    sequences_.emplace_back();
    return static_cast<int32_t>(sequences_.size() - 1);
  }

  /// Closed loop: a client sends the stream's next request now; one that can never run is
  /// dropped and the client sends the next one at once.
  void submit_next(double now) {
    while (!stream_.done()) {
      if (submit(stream_.next(), now)) return;
    }
  }

  /// Routes a request that arrived (closed loop: sent at `now`); false when it was dropped.
  bool submit(const RequestSpec& spec, double now) {
    const bool closed = c_.workload.arrival == ArrivalKind::kClosedLoop;
    const int32_t id = new_slot();
    Sequence& s = sequences_[id];
    s.index = issued_++;
    s.input = spec.input_tokens;
    s.output = spec.output_tokens;
    s.arrival = closed ? now : spec.arrival_s;
    s.kv_tokens = cached_prefix(spec.input_tokens);
    if (!fits(s)) {
      ++dropped_;
      progress_.advance();
      if (!measured(s.index)) ++dropped_excluded_;
      const int64_t tokens = serve::lifetime_tokens(s);
      shortest_dropped_ = shortest_dropped_ < 0 ? tokens : std::min(shortest_dropped_, tokens);
      free_slots_.push_back(id);
      return false;
    }
    const int32_t engine = route();
    Engine& e = engines_[engine];
    e.waiting.push_back(id);
    ++e.outstanding;
    ++replica_outstanding_[e.replica];
    touched_.push_back(engine);
    return true;
  }

  /// Prompt tokens found in the prefix cache: never the whole prompt (its last token is run to
  /// produce the first output token).
  [[nodiscard]] int64_t cached_prefix(int64_t input) const {
    const auto cached =
        static_cast<int64_t>(std::floor(c_.prefix_cache_hit_rate * static_cast<double>(input)));
    return std::min(cached, input - 1);
  }

  /// The whole life of the sequence fits an engine of every pool it passes through.
  [[nodiscard]] bool fits(const Sequence& s) const {
    const int64_t tokens = serve::lifetime_tokens(s);
    const int64_t watermark =
        static_cast<int64_t>(std::floor(c_.limits.watermark * static_cast<double>(fit_blocks_)));
    const int64_t blocks = (tokens + c_.limits.block_size - 1) / c_.limits.block_size;
    return tokens <= c_.model.max_positions && blocks + watermark <= fit_blocks_;
  }

  [[noreturn]] void no_request_fits() const {
    const int64_t tokens = shortest_dropped_;
    const char* field =
        c_.workload.arrival == ArrivalKind::kTrace ? "workload.trace" : "workload.input";
    if (tokens > c_.model.max_positions) {
      bad_field(field, fmt::format("no request fits: the shortest needs input + output - 1 = {} "
                                   "positions and the model's context is {} tokens",
                                   tokens, c_.model.max_positions));
    }
    bad_field(field,
              fmt::format("no request fits the KV cache: the shortest needs {} tokens and an "
                          "engine's cache holds {} blocks of {} tokens ({:.3g} GiB free per "
                          "device after weights and activations)",
                          tokens, kv_.blocks_per_engine, c_.limits.block_size,
                          kv_.free_per_device.value() / (1u << 30)));
  }

  /// Whether request `index` (arrival order) counts: past the warm-up and, once the stream's
  /// length is known, before the cool-down.
  [[nodiscard]] bool measured(int64_t index) const {
    if (index < c_.warmup_requests) return false;
    return !stream_.done() || index < issued_ - c_.cooldown_requests;
  }

  /// A request finished: its figures go to the statistics, or wait until it is known whether
  /// it is in the cool-down (only the requests of the last `cooldown` arrivals wait).
  void finished(const Sequence& s) {
    const FinishedRequest f{s.index,  s.arrival, s.first_scheduled, s.first_token,
                            s.finish, s.input,   s.output};
    if (s.index < c_.warmup_requests) return;
    if (c_.cooldown_requests == 0) return record(f);
    held_.push_back(f);
    flush_held();
  }

  void flush_held() {
    const int64_t known_below = issued_ - c_.cooldown_requests;  // never in the cool-down
    std::erase_if(held_, [&](const FinishedRequest& f) {
      if (f.index >= known_below) return stream_.done();  // in the cool-down once all issued
      record(f);
      return true;
    });
  }

  void record(const FinishedRequest& f) {
    const int64_t at = f.index - c_.warmup_requests;
    first_arrival_ = std::min(first_arrival_, f.arrival);
    last_finish_ = std::max(last_finish_, f.finish);
    prompt_tokens_ += f.input;
    generated_tokens_ += f.output;
    ++measured_completed_;
    queueing_.add(at, f.first_scheduled - f.arrival);
    ttft_.add(at, f.first_token - f.arrival);
    e2e_.add(at, f.finish - f.arrival);
    bool meets = f.first_token - f.arrival <= c_.slo.ttft.value();
    if (f.output > 1) {
      const double t = (f.finish - f.first_token) / static_cast<double>(f.output - 1);
      tpot_.add(at, t);
      meets = meets && t <= c_.slo.tpot.value();
    }
    good_ += meets ? 1 : 0;
  }

  /// The replica by the load balancer (among the prefill replicas when disaggregated), then its
  /// virtual engine with the fewest outstanding.
  int32_t route() {
    int32_t replica = 0;
    switch (c_.load_balancer) {
      case LoadBalancer::kRoundRobin:
        replica = static_cast<int32_t>(round_robin_++ % static_cast<uint64_t>(entry_replicas_));
        break;
      case LoadBalancer::kLeastOutstanding:
        replica = least_outstanding_replica(0, entry_replicas_);
        break;
    }
    return least_outstanding_engine(replica);
  }

  /// The replica of [first, end) with the fewest outstanding requests (the first on ties).
  int32_t least_outstanding_replica(int32_t first, int32_t end) const {
    const auto begin = replica_outstanding_.begin();
    return static_cast<int32_t>(std::min_element(begin + first, begin + end) - begin);
  }

  int32_t least_outstanding_engine(int32_t replica) const {
    const int pp = c_.pipeline_parallel;
    int32_t best = replica * pp;
    for (int32_t i = best + 1; i < (replica + 1) * pp; ++i) {
      if (engines_[i].outstanding < engines_[best].outstanding) best = i;
    }
    return best;
  }

  void start_touched(double now) {
    for (const int32_t index : touched_) {
      Engine& e = engines_[index];
      if (e.decode_only) admit_incoming(e, now);
      if (!e.busy) start_iteration(e, index, now);
    }
    touched_.clear();
  }

  /// Disaggregated: a prompt finished on prefill engine `index` (its first token out). Its cache
  /// stays there until the hand-off ends; the decode replica with the fewest outstanding
  /// requests queues it.
  void hand_off(int32_t index, int32_t id) {
    Engine& e = engines_[index];
    Sequence& s = sequences_[id];
    s.prefill_engine = index;
    s.prefill_blocks = s.blocks;
    s.blocks = 0;
    ++e.in_transfer;
    --e.outstanding;
    --replica_outstanding_[e.replica];
    const int32_t decode = least_outstanding_engine(least_outstanding_replica(
        entry_replicas_, static_cast<int32_t>(replica_outstanding_.size())));
    Engine& d = engines_[decode];
    s.decode_engine = decode;
    d.incoming.push_back(id);
    ++d.outstanding;
    ++replica_outstanding_[d.replica];
    touched_.push_back(decode);
  }

  /// Disaggregated decode engine: takes handed-off sequences first come first served while
  /// their cache fits (keeping the watermark free) and the batch limit allows, after any
  /// sequence it preempted, and starts pulling each one's cache.
  void admit_incoming(Engine& e, double now) {
    const auto keep_free =
        static_cast<int64_t>(std::floor(c_.limits.watermark * static_cast<double>(e.pool.total())));
    while (!e.incoming.empty() && e.waiting.empty() &&
           static_cast<int64_t>(e.running.size()) + e.in_transfer < decode_limits_.max_num_seqs) {
      const int32_t id = e.incoming.front();
      Sequence& s = sequences_[id];
      const int64_t blocks = e.pool.blocks_for(s.kv_tokens);
      if (!e.pool.try_allocate(blocks, keep_free)) return;
      e.incoming.pop_front();
      s.blocks = blocks;
      blocks_used_ += blocks;
      ++e.in_transfer;
      const Seconds t = transfer_time(s.prefill_engine, s.decode_engine, s.kv_tokens);
      transfers_.add(s.index, t.value());
      events_.push(now + t.value(), EventKind::kTransferDone, id);
    }
  }

  /// The whole cache of `tokens` tokens from prefill engine `from` to decode engine `to`, every
  /// device of the sending attention group to its counterpart at once (the larger per-device
  /// share when the pools' tensor parallelism differs), over the scale-up fabric when the two
  /// replicas share a domain, else the scale-out network (comm/group.hpp).
  [[nodiscard]] Seconds transfer_time(int32_t from, int32_t to, int64_t tokens) {
    const Bytes per_token =
        max(kv_.bytes_per_token_per_device, decode_kv_.bytes_per_token_per_device);
    const int domain = std::max(1, system_.scale_up.domain_devices);
    const int a = engines_[from].replica, b = engines_[to].replica;
    const int last = first_device_[b] + devices_per_replica(c_, engines_[to].decode_only) - 1;
    const int first = first_device_[a];
    const int end = first_device_[a] + devices_per_replica(c_, false) - 1;
    // Both replicas inside one domain (replica_layout keeps a replica from straddling one).
    const bool same_domain = first / domain == end / domain &&
                             first / domain == first_device_[b] / domain &&
                             first / domain == last / domain;
    all_transfers_scale_up_ = all_transfers_scale_up_ && same_domain;
    const GroupPlacement pair{2, same_domain ? 2 : 1, true};
    return collective_time(Collective::kPointToPoint, per_token * static_cast<double>(tokens), pair,
                           system_);
  }

  /// A hand-off ended: the prefill engine frees the prompt's blocks and the sequence joins the
  /// decode engine's running sequences.
  void complete_transfer(int32_t id) {
    Sequence& s = sequences_[id];
    Engine& p = engines_[s.prefill_engine];
    p.pool.release(s.prefill_blocks);
    blocks_used_ -= s.prefill_blocks;
    s.prefill_blocks = 0;
    --p.in_transfer;
    touched_.push_back(s.prefill_engine);
    Engine& d = engines_[s.decode_engine];
    --d.in_transfer;
    d.running.push_back(id);
    ++running_;
    touched_.push_back(s.decode_engine);
  }

  void start_iteration(Engine& e, int32_t index, double now) {
    const int64_t used_before = e.pool.used();
    const auto running_before = static_cast<int64_t>(e.running.size());
    (e.decode_only ? decode_policy_ : policy_)->schedule(e, sequences_, now);
    blocks_used_ += e.pool.used() - used_before;
    running_ += static_cast<int64_t>(e.running.size()) - running_before;
    const Seconds swap = swap_time(e);
    if (e.batch.empty()) {
      // Blocks held by hand-offs are freed when those end, and the engine is touched then.
      if ((!e.running.empty() || !e.waiting.empty()) && e.in_transfer == 0) {
        throw Error(Error::Kind::kInternal,
                    fmt::format("serve: engine {} stalled with {} running and {} waiting", index,
                                e.running.size(), e.waiting.size()));
      }
      return;
    }
    IterationShape shape;
    IterationShape drafts;  // speculative decoding: the decode sequences, one token each
    int32_t prefills = 0;
    const auto verified = static_cast<int64_t>(c_.speculation.draft_tokens) + 1;
    for (const BatchEntry& b : e.batch) {
      const Sequence& s = sequences_[b.sequence];
      const bool emits = s.prefill_goal == 0 || s.kv_tokens + b.new_tokens == s.prefill_goal;
      if (s.prefill_goal != 0) {
        ++prefills;
        prefill_tokens_ += b.new_tokens;
        shape.add(c_.model, b.new_tokens, s.kv_tokens, emits);
        continue;
      }
      // A decode step verifies the last token and the k proposals in one pass.
      shape.add(c_.model, verified, s.kv_tokens, emits);
      if (verified > 1) drafts.add(c_.model, 1, s.kv_tokens);
    }
    const Deployment& d = e.decode_only ? decode_deployment_ : deployment_;
    const int groups = d.expert_parallel;
    Seconds duration = engine_step_time(c_, system_, d, shape);
    if (drafts.sequences > 0) duration += draft_time(per_group(drafts, groups), d);
    if (c_.pipeline_parallel > 1)
      duration += pipeline_transfers(per_group(shape, groups).new_tokens, d);
    duration += swap;
    const double t = duration.value();
    e.busy = true;
    events_.push(now + t, EventKind::kIterationDone, index);

    ++iterations_;
    const auto batch = static_cast<int64_t>(e.batch.size());
    batch_sum_ += static_cast<double>(batch);
    batch_max_ = std::max(batch_max_, batch);
    kv_block_seconds_ += static_cast<double>(e.pool.used()) * t;
    if (c_.record_iterations) {
      iteration_log_.push_back({now, t, e.replica, e.slot, prefills,
                                static_cast<int32_t>(batch) - prefills, shape.new_tokens,
                                e.pool.used()});
    }
  }

  /// The blocks the scheduler swapped out and in for this iteration cross each device's host
  /// link before it runs (as vLLM's cache engine does), the two directions at once.
  Seconds swap_time(Engine& e) const {
    const int64_t tokens = std::max(e.swap_out_tokens, e.swap_in_tokens);
    e.swap_out_tokens = 0;
    e.swap_in_tokens = 0;
    if (tokens == 0) return Seconds(0.0);
    const KvCacheSize& kv = e.decode_only ? decode_kv_ : kv_;
    // validate_serve_config checked that the accelerator has a host link.
    return host_transfer_time(kv.bytes_per_token_per_device * static_cast<double>(tokens), c_.hw)
        .value_or(Seconds(0.0));
  }

  /// Activations of the iteration sent between consecutive stages, each a point-to-point
  /// between devices tp x ep apart in the rank order (comm/group.hpp).
  Seconds pipeline_transfers(int64_t tokens, const Deployment& d) const {
    const Bytes bytes(p2p_bytes_per_token_ * static_cast<double>(tokens));
    const GroupPlacement pair = place_group(2, d.tensor_parallel * d.expert_parallel, system_);
    return collective_time(Collective::kPointToPoint, bytes, pair, system_) *
           static_cast<double>(c_.pipeline_parallel - 1);
  }

  /// The k proposals of a speculative step: k passes of the draft model over the decode
  /// sequences, or k passes of one MTP layer and the shared embedding and head.
  Seconds draft_time(const IterationShape& drafts, const Deployment& d) const {
    const double k = c_.speculation.draft_tokens;
    if (c_.speculation.draft_model) {
      Deployment draft = d;
      draft.expert_parallel = 1;
      return cost_iteration(*c_.speculation.draft_model, system_, draft, drafts).time * k;
    }
    const PassShape one{drafts.sequences, 1,
                        static_cast<int64_t>(drafts.kv_full / static_cast<double>(std::max<int64_t>(
                                                                  1, drafts.sequences)))};
    const bool moe = c_.model.moe.has_value();
    return (cost_layer_forward(c_.model, c_.hw, d, one, false, moe).time +
            cost_embedding_and_head_forward(c_.model, c_.hw, d, one).time) *
           k;
  }

  /// Tokens a decode step of `s` emits: one, or with speculation the expected count carried
  /// as a running credit so that every step emits a whole number (deterministic, no sampling).
  int64_t emitted_tokens(Sequence& s) const {
    if (c_.speculation.draft_tokens == 0) return 1;
    s.speculative_credit += tokens_per_step_;
    const auto n = static_cast<int64_t>(std::floor(s.speculative_credit));
    s.speculative_credit -= static_cast<double>(n);
    return std::clamp<int64_t>(n, 1, s.output - s.generated);
  }

  void complete_iteration(int32_t index, double now, bool closed) {
    Engine& e = engines_[index];
    e.busy = false;
    const int64_t used_before = e.pool.used();
    const auto running_before = static_cast<int64_t>(e.running.size());
    int64_t finished = 0;
    int64_t handed_off = 0;
    for (const BatchEntry& b : e.batch) {
      Sequence& s = sequences_[b.sequence];
      const bool decoding = s.prefill_goal == 0;
      s.kv_tokens += b.new_tokens;
      const bool emits = decoding || s.kv_tokens == s.prefill_goal;
      if (!decoding && s.kv_tokens == s.prefill_goal) s.prefill_goal = 0;
      if (!emits) continue;
      // The fed token and the accepted proposals join the cache (the scheduler reserves their
      // blocks at the next step).
      const int64_t n = decoding ? emitted_tokens(s) : 1;
      s.kv_tokens += n - 1;
      s.generated += n;
      if (s.first_token < 0.0) s.first_token = now;
      if (s.generated < s.output) {
        if (disaggregated_ && !e.decode_only) {
          hand_off(index, b.sequence);
          ++handed_off;
        }
        continue;
      }
      s.finish = now;
      e.pool.release(s.blocks);
      s.blocks = 0;
      --e.outstanding;
      --replica_outstanding_[e.replica];
      ++finished;
      this->finished(s);
      done_slots_.push_back(b.sequence);
    }
    if (handed_off > 0) {
      std::erase_if(e.running, [&](int32_t id) { return sequences_[id].decode_engine >= 0; });
    }
    if (finished > 0) {
      std::erase_if(e.running, [&](int32_t id) { return sequences_[id].finish >= 0.0; });
      completed_ += finished;
      progress_.advance(finished);
      // The finished requests' slots are free once no queue names them.
      free_slots_.insert(free_slots_.end(), done_slots_.begin(), done_slots_.end());
      done_slots_.clear();
      if (closed) {
        for (int64_t i = 0; i < finished && !stream_.done(); ++i) submit_next(now);
      }
    }
    blocks_used_ += e.pool.used() - used_before;
    running_ += static_cast<int64_t>(e.running.size()) - running_before;
  }

  ServeResult finish() {
    ServeResult r;
    r.seed = c_.workload.seed;
    r.system_id = system_.id;
    const int per_node = std::max(1, system_.devices_per_node);
    const int used = replica_layout(c_, system_.scale_up.domain_devices).devices;
    r.nodes_used = (used + per_node - 1) / per_node;
    r.devices_per_node = per_node;
    r.requests = issued_;
    r.completed = completed_;
    r.dropped = dropped_;
    if (r.completed + r.dropped != r.requests) {
      throw Error(Error::Kind::kInternal,
                  fmt::format("serve: {} of {} requests neither finished nor dropped",
                              r.requests - r.completed - r.dropped, r.requests));
    }
    if (r.completed == 0 && r.dropped > 0) no_request_fits();
    flush_held();
    r.warmup_excluded = std::min(c_.warmup_requests, issued_);
    r.cooldown_excluded = std::min(c_.cooldown_requests, issued_ - r.warmup_excluded);
    r.iterations = iterations_;
    r.prefill_tokens_processed = prefill_tokens_;
    r.kv_cache = kv_;
    for (const Engine& e : engines_) {
      r.preemptions += e.preemptions;
      r.kv_blocks_max_used = std::max(r.kv_blocks_max_used, e.pool.max_used());
    }
    r.prompt_tokens = prompt_tokens_;
    r.generated_tokens = generated_tokens_;
    r.queueing = summarize(queueing_);
    r.ttft = summarize(ttft_);
    r.tpot = summarize(tpot_);
    r.e2e = summarize(e2e_);
    r.interval_warning = interval_warning(r);
    const double span = measured_completed_ > 0 ? last_finish_ - first_arrival_ : 0.0;
    r.makespan = Seconds(span);
    if (span > 0.0) {
      r.throughput_requests_per_s = static_cast<double>(measured_completed_) / span;
      r.throughput_tokens_per_s = static_cast<double>(r.generated_tokens) / span;
      r.goodput_requests_per_s = static_cast<double>(good_) / span;
      r.kv_utilization_mean = kv_block_seconds_ / (total_blocks_ * span);
    }
    const int64_t arrived =
        std::max<int64_t>(1, measured_completed_ + dropped_ - dropped_excluded_);
    r.goodput = static_cast<double>(good_) / static_cast<double>(arrived);
    r.batch_size_mean = iterations_ > 0 ? batch_sum_ / static_cast<double>(iterations_) : 0.0;
    r.batch_size_max = batch_max_;
    if (r.generated_tokens > 0) {
      const double devices = static_cast<double>(devices_of(c_));
      const Seconds device_time = r.makespan * devices;
      r.energy_per_token = c_.hw.tdp * device_time / static_cast<double>(r.generated_tokens);
      if (const auto hourly = hourly_cost(c_.hw, c_.economics)) {
        r.cost_per_million_tokens_usd = (hourly->per_device * device_time).value() /
                                        static_cast<double>(r.generated_tokens) * 1e6;
        r.cost_basis = hourly->basis;
      }
    }
    if (disaggregated_) r.disaggregation = disaggregation_stats();
    r.timeline = timeline_.take();
    r.iteration_log = std::move(iteration_log_);
    return r;
  }

  /// The percentiles whose 95% interval is wider than 5% of the value, or that have too few
  /// requests for batch means; empty when every one is within.
  static std::string interval_warning(const ServeResult& r) {
    std::vector<std::string> wide;
    auto check = [&wide](const char* name, Seconds value, Seconds half) {
      if (value.value() <= 0.0) return;
      if (half.value() <= 0.0) {
        wide.push_back(
            fmt::format("{} (too few requests for {} batches)", name, BatchedMetric::kBatches));
      } else if (half.value() > 0.05 * value.value()) {
        wide.push_back(fmt::format("{} +/-{:.0f}%", name, 100.0 * half.value() / value.value()));
      }
    };
    check("p99 TTFT", r.ttft.p99, r.ttft.p99_half_width);
    check("p99 TPOT", r.tpot.p99, r.tpot.p99_half_width);
    check("p50 TTFT", r.ttft.p50, r.ttft.p50_half_width);
    check("p50 TPOT", r.tpot.p50, r.tpot.p50_half_width);
    if (wide.empty()) return "";
    return fmt::format("the run is too short for 95% intervals within 5%: {}",
                       fmt::join(wide, ", "));
  }

  DisaggregationStats disaggregation_stats() {
    DisaggregationStats d;
    d.transfers = transfers_.count();
    d.transfer = summarize(transfers_);
    d.scale_up = all_transfers_scale_up_;
    d.decode_kv_cache = decode_kv_;
    for (const Engine& e : engines_) {
      int64_t& max = e.decode_only ? d.decode_kv_blocks_max_used : d.prefill_kv_blocks_max_used;
      max = std::max(max, e.pool.max_used());
    }
    return d;
  }

  const ServeConfig& c_;
  SystemSpec system_;
  Deployment deployment_;         ///< of every engine, or the prefill pool's
  Deployment decode_deployment_;  ///< the disaggregated decode pool's
  KvCacheSize kv_;
  KvCacheSize decode_kv_;
  EngineLimits decode_limits_;
  std::unique_ptr<serve::SchedulerPolicy> policy_;         ///< of every engine, or prefill's
  std::unique_ptr<serve::SchedulerPolicy> decode_policy_;  ///< disaggregated decode engines
  bool disaggregated_ = false;
  double tokens_per_step_ = 1.0;   ///< expected tokens per decode step (speculation)
  int32_t entry_replicas_ = 1;     ///< replicas requests are routed to: all, or the prefill pool
  int64_t fit_blocks_ = 0;         ///< the smallest engine cache a request passes through
  std::vector<int> first_device_;  ///< per replica, its first device in the rank order
  bool all_transfers_scale_up_ = true;
  EventQueue events_;
  RequestStream stream_;
  int64_t expected_ = 0;                ///< requests the run will have (an estimate for timed runs)
  std::optional<RequestSpec> pending_;  ///< open arrivals: the next request not yet arrived
  int64_t issued_ = 0;
  std::vector<int32_t> free_slots_;
  std::vector<int32_t> done_slots_;  ///< finished in this iteration, freed after the erase
  std::vector<FinishedRequest> held_;
  BatchedMetric queueing_, ttft_, tpot_, e2e_, transfers_;
  ProgressMeter progress_;  ///< over completed and dropped requests (of the expected count)
  double first_arrival_ = std::numeric_limits<double>::infinity();
  double last_finish_ = 0.0;
  int64_t prompt_tokens_ = 0, generated_tokens_ = 0, measured_completed_ = 0, good_ = 0;
  int64_t dropped_excluded_ = 0;
  int64_t shortest_dropped_ = -1;
  std::vector<Sequence> sequences_;
  std::vector<Engine> engines_;
  std::vector<int32_t> touched_;
  std::vector<int64_t> replica_outstanding_;
  std::vector<IterationRecord> iteration_log_;
  TimelineSampler timeline_;
  double p2p_bytes_per_token_ = 0.0;
  uint64_t round_robin_ = 0;
  int64_t completed_ = 0;
  int64_t dropped_ = 0;
  int64_t iterations_ = 0;
  int64_t prefill_tokens_ = 0;
  int64_t blocks_used_ = 0;  ///< over all engines
  int64_t running_ = 0;      ///< over all engines
  double total_blocks_ = 0.0;
  double batch_sum_ = 0.0;
  int64_t batch_max_ = 0;
  double kv_block_seconds_ = 0.0;
};

}  // namespace

int replicas_of(const ServeConfig& c) {
  return c.scheduler == SchedulerKind::kDisaggregated ? c.prefill_replicas + c.decode_replicas
                                                      : c.replicas;
}

EngineLimits stack_limits(const ServingStack& stack, EngineLimits limits) {
  if (stack.max_num_seqs > 0) limits.max_num_seqs = stack.max_num_seqs;
  if (stack.max_num_batched_tokens > 0) limits.max_batched_tokens = stack.max_num_batched_tokens;
  return limits;
}

Seconds engine_step_time(const ServeConfig& c, const SystemSpec& system, const Deployment& d,
                         const IterationShape& batch) {
  Seconds t = cost_iteration(c.model, system, d, per_group(batch, d.expert_parallel)).time;
  if (c.stack && c.stack->serving) t += c.stack->serving->host_overhead_per_iteration;
  return t;
}

int devices_per_replica(const ServeConfig& c, bool decode) {
  return pool_tp(c, decode) * pool_ep(c, decode) * c.pipeline_parallel;
}

int devices_of(const ServeConfig& c) {
  if (!disaggregated(c)) return c.replicas * devices_per_replica(c);
  return c.prefill_replicas * devices_per_replica(c) +
         c.decode_replicas * devices_per_replica(c, true);
}

namespace {

int devices_per_replica_of(const ServeConfig& c, int replica) {
  return devices_per_replica(c, disaggregated(c) && replica >= c.prefill_replicas);
}

}  // namespace

SystemSpec serving_system(const ServeConfig& c) {
  const int domain = c.system ? c.system->scale_up.domain_devices : c.hw.scale_up_domain_devices;
  const int devices = replica_layout(c, domain).devices;
  if (c.system) {
    if (c.system->devices() >= devices) return *c.system;
    const int per_node = std::max(1, c.system->devices_per_node);
    return with_nodes(*c.system, (devices + per_node - 1) / per_node);
  }
  return default_system_for(c.hw, devices);
}

double expected_tokens_per_step(const Speculation& s) {
  const double k = s.draft_tokens;
  if (s.draft_tokens <= 0) return 1.0;
  if (s.acceptance >= 1.0) return k + 1.0;
  return (1.0 - std::pow(s.acceptance, k + 1.0)) / (1.0 - s.acceptance);
}

namespace {

/// The degrees and formats every pool must satisfy (validate_request's rules on tp, the
/// expert-parallel split of the experts).
void validate_pool(const ServeConfig& c, bool decode) {
  const int tp = pool_tp(c, decode);
  const int ep = pool_ep(c, decode);
  const char* tp_flag = decode ? "--decode-tp" : "--tp";
  const char* ep_flag = decode ? "--decode-ep" : "--ep";
  if (tp < 1) bad_flag(tp_flag, fmt::format("expected at least 1, got {}", tp));
  if (ep < 1) bad_flag(ep_flag, fmt::format("expected at least 1, got {}", ep));
  if (ep > 1 && !c.model.moe)
    bad_flag(ep_flag, fmt::format("expert parallelism needs a mixture-of-experts model, and {} "
                                  "is dense",
                                  c.model.id));
  if (ep > 1 && c.model.moe->num_experts % ep != 0)
    bad_flag(ep_flag, fmt::format("expected a divisor of the model's {} routed experts, got {}",
                                  c.model.moe->num_experts, ep));
  InferenceRequest r;
  r.devices = tp;
  r.weight_dtype = c.weight_dtype;
  r.kv_dtype = c.kv_dtype;
  r.input_len = 1;
  r.output_len = 1;
  try {
    validate_request(c.model, c.hw, r);
  } catch (const Error& e) {
    // validate_request's `devices` is the pool's tensor-parallel degree here.
    if (e.field() != "devices") throw;
    bad_flag(tp_flag, e.detail());
  }
}

void validate_speculation(const ServeConfig& c) {
  const Speculation& s = c.speculation;
  if (s.draft_tokens < 0 || s.draft_tokens > 16)
    bad_flag("--spec-tokens", fmt::format("expected 0 to 16, got {}", s.draft_tokens));
  if (s.draft_tokens == 0) return;
  if (!(s.acceptance >= 0.0 && s.acceptance <= 1.0))
    bad_flag("--spec-acceptance", fmt::format("expected a share in [0, 1], got {}", s.acceptance));
  if (s.draft_model && s.draft_model->vocab != c.model.vocab)
    bad_flag("--spec-draft", fmt::format("the draft's vocabulary of {} differs from the model's {}",
                                         s.draft_model->vocab, c.model.vocab));
}

}  // namespace

void validate_slo(const Slo& slo) {
  // A microsecond is below any kernel; an hour to the first token is no objective.
  constexpr double kMinObjectiveS = 1e-6, kMaxObjectiveS = 3600.0;
  const auto check = [&](const char* field, Seconds objective) {
    if (!(objective.value() >= kMinObjectiveS && objective.value() <= kMaxObjectiveS))
      bad_field(field, fmt::format("expected {:g} to {:g} s, got {}", kMinObjectiveS,
                                   kMaxObjectiveS, objective.value()));
  };
  check("slo.ttft", slo.ttft);
  check("slo.tpot", slo.tpot);
}

void validate_serve_config(const ServeConfig& c) {
  // Each replica holds its engines and queues: beyond a few thousand a run exhausts memory
  // long before it says anything a smaller run would not.
  static constexpr int kMaxReplicas = 4096;
  auto check_replicas = [](const char* field, int n) {
    if (n < 1 || n > kMaxReplicas)
      bad_field(field, fmt::format("expected 1 to {}, got {}", kMaxReplicas, n));
  };
  check_replicas("replicas", c.replicas);
  if (c.scheduler == SchedulerKind::kDisaggregated) {
    if (c.replicas != 1)
      bad_field("replicas",
                "not with the disaggregated scheduler, which sizes its prefill and decode pools");
    check_replicas("prefill_replicas", c.prefill_replicas);
    check_replicas("decode_replicas", c.decode_replicas);
  }
  if (c.pipeline_parallel < 1 || c.pipeline_parallel > c.model.layers)
    bad_flag("--pp", fmt::format("expected 1 to the model's {} layers, got {}", c.model.layers,
                                 c.pipeline_parallel));
  validate_pool(c, false);
  if (disaggregated(c)) validate_pool(c, true);
  if (c.system && c.system->accelerator.id != c.hw.id)
    bad_flag("--system", fmt::format("its accelerator {} is not the configured {}",
                                     c.system->accelerator.id, c.hw.id));
  if (c.limits.preemption == Preemption::kSwap && !c.hw.host_link_bandwidth)
    bad_flag(
        "--preemption",
        fmt::format("swap needs the accelerator's host link (host_link.bandwidth_bytes_per_s), "
                    "which {}'s file does not give",
                    c.hw.id));
  if (!(c.prefix_cache_hit_rate >= 0.0 && c.prefix_cache_hit_rate < 1.0))
    bad_flag("--prefix-hit-rate",
             fmt::format("expected a share in [0, 1), got {}", c.prefix_cache_hit_rate));
  validate_speculation(c);
  constexpr int64_t kMaxDevices = int64_t{1} << 20;
  if (devices_of(c) > kMaxDevices)
    bad_field("replicas", fmt::format("the deployment needs {} devices: expected at most {}",
                                      devices_of(c), kMaxDevices));
  const EngineLimits& l = c.limits;
  if (l.max_num_seqs < 1 || l.max_num_seqs > (1 << 20))
    bad_field("limits.max_num_seqs",
              fmt::format("expected 1 to {}, got {}", 1 << 20, l.max_num_seqs));
  if (l.max_batched_tokens < 1 || l.max_batched_tokens > (int64_t{1} << 24))
    bad_field("limits.max_batched_tokens",
              fmt::format("expected 1 to {}, got {}", int64_t{1} << 24, l.max_batched_tokens));
  if (l.block_size < 1 || l.block_size > 4096)
    bad_field("limits.block_size", fmt::format("expected 1 to 4096, got {}", l.block_size));
  if (!(l.gpu_memory_utilization > 0.0 && l.gpu_memory_utilization <= 1.0))
    bad_field("limits.gpu_memory_utilization",
              fmt::format("expected a share in (0, 1], got {}", l.gpu_memory_utilization));
  if (!(l.watermark >= 0.0 && l.watermark < 1.0))
    bad_field("limits.watermark", fmt::format("expected a share in [0, 1), got {}", l.watermark));
  validate_slo(c.slo);
  validate_workload(c.workload);
  if (c.warmup_requests < 0)
    bad_flag("--warmup-requests", fmt::format("expected >= 0, got {}", c.warmup_requests));
  if (c.cooldown_requests < 0)
    bad_flag("--cooldown-requests", fmt::format("expected >= 0, got {}", c.cooldown_requests));
  const int64_t requests = RequestStream(c.workload).expected_count();
  if (c.warmup_requests + c.cooldown_requests >= requests)
    bad_flag("--warmup-requests",
             fmt::format("{} warm-up and {} cool-down requests leave none of the run's {} to "
                         "measure",
                         c.warmup_requests, c.cooldown_requests, requests));
  (void)serving_system(c);  // the devices must exist: a system file, or the chip's scale-out
}

KvCacheSize kv_cache_size(const ServeConfig& c, bool decode) {
  const Deployment d = serving_deployment(c, decode);
  const double pp = c.pipeline_parallel;
  // Each device of a pipeline stage holds 1/pp of the layers, their weights and their cache.
  const Bytes weights = weight_bytes_per_device(c.model, d) / pp;
  const Bytes activations =
      activation_bytes_per_device(c.model, d, c.limits.max_batched_tokens, c.limits.max_num_seqs);
  const Bytes usable = c.hw.memory_capacity * c.limits.gpu_memory_utilization;
  KvCacheSize size;
  size.free_per_device = usable - weights - activations - workspace_bytes_per_device();
  size.bytes_per_token_per_device = kv_bytes_per_device(c.model, d, 1) / pp;
  if (size.free_per_device.value() <= 0.0) {
    throw_field_error(
        "tensor_parallel",
        fmt::format("{} does not fit: {:.3g} GiB of weights, {:.3g} GiB of activations and "
                    "{:.3g} GiB of workspace per device exceed {:.3g} GiB ({}% of {}); use more "
                    "devices per replica or a smaller weight data type",
                    c.model.id, weights.value() / (1u << 30), activations.value() / (1u << 30),
                    workspace_bytes_per_device().value() / (1u << 30), usable.value() / (1u << 30),
                    c.limits.gpu_memory_utilization * 100.0, c.hw.id));
  }
  const double tokens = size.free_per_device / size.bytes_per_token_per_device;
  const int64_t blocks =
      checked_int64(tokens / static_cast<double>(c.limits.block_size), "KV-cache blocks");
  // Each of the ep attention groups holds the cache of its own sequences.
  size.blocks_per_engine = blocks / c.pipeline_parallel * d.expert_parallel;
  return size;
}

ServeResult simulate(const ServeConfig& config) {
  validate_serve_config(config);
  Simulation simulation(config);
  return simulation.run();
}

}  // namespace xpusim
