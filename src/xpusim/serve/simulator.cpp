// The serving simulator's event loop and metrics (docs/model.md, "Serving simulator").

#include "xpusim/serve/simulator.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

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

[[noreturn]] void bad_flag(const char* flag, const std::string& what) {
  throw_input_error("command line", flag, what);
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
        deployment_(deployment_of(c)),
        kv_(kv_cache_size(c)),
        policy_(serve::make_policy(c.scheduler, c.limits)),
        decode_policy_(serve::make_policy(SchedulerKind::kContinuous, c.limits)),
        disaggregated_(c.scheduler == SchedulerKind::kDisaggregated),
        events_(static_cast<std::size_t>(replicas_of(c)) * c.pipeline_parallel + 16),
        stream_(c.workload),
        expected_(stream_.expected_count()),
        queueing_(measured_count()),
        ttft_(measured_count()),
        tpot_(measured_count()),
        e2e_(measured_count()),
        transfers_(expected_),
        progress_(c.progress, "serve", expected_) {
    const int pp = c.pipeline_parallel;
    const int replicas = replicas_of(c);
    entry_replicas_ = disaggregated_ ? c.prefill_replicas : c.replicas;
    engines_.reserve(static_cast<std::size_t>(replicas) * pp);
    for (int r = 0; r < replicas; ++r) {
      for (int s = 0; s < pp; ++s) {
        Engine& e = engines_.emplace_back(kv_.blocks_per_engine, c.limits.block_size);
        e.replica = r;
        e.slot = s;
        e.decode_only = disaggregated_ && r >= entry_replicas_;
        e.running.reserve(static_cast<std::size_t>(c.limits.max_num_seqs));
        e.batch.reserve(static_cast<std::size_t>(c.limits.max_num_seqs));
      }
    }
    touched_.reserve(engines_.size());
    total_blocks_ = std::max(
        1.0, static_cast<double>(kv_.blocks_per_engine) * static_cast<double>(engines_.size()));
    replica_outstanding_.assign(static_cast<std::size_t>(replicas), 0);
    if (disaggregated_) link_ = kv_transfer_link(c);
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

  [[nodiscard]] bool fits(const Sequence& s) const {
    const int64_t tokens = serve::lifetime_tokens(s);
    const int64_t watermark = static_cast<int64_t>(
        std::floor(c_.limits.watermark * static_cast<double>(kv_.blocks_per_engine)));
    const int64_t blocks = (tokens + c_.limits.block_size - 1) / c_.limits.block_size;
    return tokens <= c_.model.max_positions && blocks + watermark <= kv_.blocks_per_engine;
  }

  /// Every request was dropped: the input cannot run at all.
  [[noreturn]] void no_request_fits() const {
    const int64_t tokens = shortest_dropped_;
    const char* flag =
        c_.workload.arrival == ArrivalKind::kTrace ? "--requests-file" : "--input-len";
    if (tokens > c_.model.max_positions) {
      bad_flag(flag, fmt::format("no request fits: the shortest needs input + output - 1 = {} "
                                 "positions and the model's context is {} tokens",
                                 tokens, c_.model.max_positions));
    }
    bad_flag(flag, fmt::format("no request fits the KV cache: the shortest needs {} tokens and an "
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
           static_cast<int64_t>(e.running.size()) + e.in_transfer < c_.limits.max_num_seqs) {
      const int32_t id = e.incoming.front();
      Sequence& s = sequences_[id];
      const int64_t blocks = e.pool.blocks_for(s.kv_tokens);
      if (!e.pool.try_allocate(blocks, keep_free)) return;
      e.incoming.pop_front();
      s.blocks = blocks;
      blocks_used_ += blocks;
      ++e.in_transfer;
      const Seconds t = transfer_time(s.kv_tokens);
      transfers_.add(s.index, t.value());
      events_.push(now + t.value(), EventKind::kTransferDone, id);
    }
  }

  /// The whole cache of `tokens` tokens, every device of the replica sending its share at once.
  [[nodiscard]] Seconds transfer_time(int64_t tokens) const {
    const Bytes per_device = kv_.bytes_per_token_per_device * static_cast<double>(tokens);
    return link_.latency + per_device / link_.achievable;
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
    int32_t prefills = 0;
    for (const BatchEntry& b : e.batch) {
      const Sequence& s = sequences_[b.sequence];
      const bool emits = s.prefill_goal == 0 || s.kv_tokens + b.new_tokens == s.prefill_goal;
      if (s.prefill_goal != 0) {
        ++prefills;
        prefill_tokens_ += b.new_tokens;
      }
      shape.add(c_.model, b.new_tokens, s.kv_tokens, emits);
    }
    Seconds duration = cost_iteration(c_.model, c_.hw, deployment_, shape).time;
    if (c_.pipeline_parallel > 1) duration += pipeline_transfers(shape.new_tokens);
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
    return kv_.bytes_per_token_per_device * static_cast<double>(tokens) / kHostLinkBandwidth;
  }

  /// Activations of the iteration sent between consecutive stages over the scale-up fabric.
  Seconds pipeline_transfers(int64_t tokens) const {
    const Bytes bytes(p2p_bytes_per_token_ * static_cast<double>(tokens));
    const BytesPerSecond bandwidth =
        c_.hw.scale_up_bandwidth * c_.hw.efficiency.scale_up_bandwidth_fraction;
    return (bytes / bandwidth + c_.hw.scale_up_latency) *
           static_cast<double>(c_.pipeline_parallel - 1);
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
      s.kv_tokens += b.new_tokens;
      const bool emits = s.prefill_goal == 0 || s.kv_tokens == s.prefill_goal;
      if (s.prefill_goal != 0 && s.kv_tokens == s.prefill_goal) s.prefill_goal = 0;
      if (!emits) continue;
      ++s.generated;
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
      r.kv_utilization_mean = kv_block_seconds_ / (static_cast<double>(kv_.blocks_per_engine) *
                                                   static_cast<double>(engines_.size()) * span);
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
    d.scale_up = link_.scale_up;
    for (const Engine& e : engines_) {
      int64_t& max = e.decode_only ? d.decode_kv_blocks_max_used : d.prefill_kv_blocks_max_used;
      max = std::max(max, e.pool.max_used());
    }
    return d;
  }

  const ServeConfig& c_;
  Deployment deployment_;
  KvCacheSize kv_;
  std::unique_ptr<serve::SchedulerPolicy> policy_;         ///< of every engine, or prefill's
  std::unique_ptr<serve::SchedulerPolicy> decode_policy_;  ///< disaggregated decode engines
  bool disaggregated_ = false;
  int32_t entry_replicas_ = 1;  ///< replicas requests are routed to: all, or the prefill pool
  KvTransferLink link_;
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
  double total_blocks_ = 1.0;
  double batch_sum_ = 0.0;
  int64_t batch_max_ = 0;
  double kv_block_seconds_ = 0.0;
};

}  // namespace

Deployment deployment_of(const ServeConfig& c) {
  InferenceRequest r;
  r.devices = c.tensor_parallel;
  r.weight_dtype = c.weight_dtype;
  r.kv_dtype = c.kv_dtype;
  return deployment_for(r);
}

int replicas_of(const ServeConfig& c) {
  return c.scheduler == SchedulerKind::kDisaggregated ? c.prefill_replicas + c.decode_replicas
                                                      : c.replicas;
}

int devices_of(const ServeConfig& c) {
  return replicas_of(c) * c.tensor_parallel * c.pipeline_parallel;
}

KvTransferLink kv_transfer_link(const ServeConfig& c) {
  const AcceleratorSpec& hw = c.hw;
  const double fraction = hw.efficiency.scale_up_bandwidth_fraction;
  const int devices = devices_of(c);
  if (devices <= hw.scale_up_domain_devices) {
    return {hw.scale_up_bandwidth * fraction, hw.scale_up_latency, true};
  }
  if (!hw.scale_out_bandwidth) {
    bad_flag("--prefill-replicas",
             fmt::format("the {} devices exceed {}'s scale-up domain of {} and it has no "
                         "scale-out link to move KV caches between the pools",
                         devices, hw.id, hw.scale_up_domain_devices));
  }
  return {*hw.scale_out_bandwidth * fraction, kScaleOutLatency, false};
}

void validate_serve_config(const ServeConfig& c) {
  if (c.replicas < 1)
    bad_flag("--replicas", fmt::format("expected at least 1, got {}", c.replicas));
  if (c.scheduler == SchedulerKind::kDisaggregated) {
    if (c.replicas != 1)
      bad_flag("--replicas",
               "not with --scheduler disaggregated: give --prefill-replicas and --decode-replicas");
    if (c.prefill_replicas < 1)
      bad_flag("--prefill-replicas",
               fmt::format("expected at least 1, got {}", c.prefill_replicas));
    if (c.decode_replicas < 1)
      bad_flag("--decode-replicas", fmt::format("expected at least 1, got {}", c.decode_replicas));
  }
  if (c.tensor_parallel < 1)
    bad_flag("--tp", fmt::format("expected at least 1, got {}", c.tensor_parallel));
  if (c.pipeline_parallel < 1 || c.pipeline_parallel > c.model.layers)
    bad_flag("--pp", fmt::format("expected 1 to the model's {} layers, got {}", c.model.layers,
                                 c.pipeline_parallel));
  InferenceRequest r;
  r.devices = c.tensor_parallel;
  r.weight_dtype = c.weight_dtype;
  r.kv_dtype = c.kv_dtype;
  r.input_len = 1;
  r.output_len = 1;
  try {
    validate_request(c.model, c.hw, r);
  } catch (const Error& e) {
    // validate_request names --devices; in serve the tensor-parallel degree is --tp.
    std::string message = e.what();
    const std::string from = "command line: --devices:";
    if (message.rfind(from, 0) == 0) message = "command line: --tp:" + message.substr(from.size());
    throw Error(e.kind(), message);
  }
  const EngineLimits& l = c.limits;
  if (l.max_num_seqs < 1 || l.max_num_seqs > (1 << 20))
    bad_flag("--max-batch", fmt::format("expected 1 to {}, got {}", 1 << 20, l.max_num_seqs));
  if (l.max_batched_tokens < 1 || l.max_batched_tokens > (int64_t{1} << 24))
    bad_flag("--max-batched-tokens",
             fmt::format("expected 1 to {}, got {}", int64_t{1} << 24, l.max_batched_tokens));
  if (l.block_size < 1 || l.block_size > 4096)
    bad_flag("--block-size", fmt::format("expected 1 to 4096, got {}", l.block_size));
  if (!(l.gpu_memory_utilization > 0.0 && l.gpu_memory_utilization <= 1.0))
    bad_flag("--gpu-memory-utilization",
             fmt::format("expected a share in (0, 1], got {}", l.gpu_memory_utilization));
  if (!(l.watermark >= 0.0 && l.watermark < 1.0))
    bad_flag("--watermark", fmt::format("expected a share in [0, 1), got {}", l.watermark));
  if (!(c.slo.ttft.value() > 0.0))
    bad_flag("--slo-ttft", fmt::format("expected > 0 s, got {}", c.slo.ttft.value()));
  if (!(c.slo.tpot.value() > 0.0))
    bad_flag("--slo-tpot", fmt::format("expected > 0 s, got {}", c.slo.tpot.value()));
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
  if (c.scheduler == SchedulerKind::kDisaggregated) (void)kv_transfer_link(c);
}

KvCacheSize kv_cache_size(const ServeConfig& c) {
  const Deployment d = deployment_of(c);
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
    throw_input_error(
        "command line", "--tp",
        fmt::format("{} does not fit: {:.3g} GiB of weights, {:.3g} GiB of activations and "
                    "{:.3g} GiB of workspace per device exceed {:.3g} GiB ({}% of {}); use more "
                    "devices per replica or a smaller --weight-dtype",
                    c.model.id, weights.value() / (1u << 30), activations.value() / (1u << 30),
                    workspace_bytes_per_device().value() / (1u << 30), usable.value() / (1u << 30),
                    c.limits.gpu_memory_utilization * 100.0, c.hw.id));
  }
  const double tokens = size.free_per_device / size.bytes_per_token_per_device;
  const auto blocks = static_cast<int64_t>(tokens / static_cast<double>(c.limits.block_size));
  size.blocks_per_engine = blocks / c.pipeline_parallel;
  return size;
}

ServeResult simulate(const ServeConfig& config) {
  validate_serve_config(config);
  Simulation simulation(config);
  return simulation.run();
}

}  // namespace xpusim
