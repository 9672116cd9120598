// Serving simulator reports.

#include "xpusim/report/serve_report.hpp"

#include <fmt/format.h>

#include "xpusim/report/table.hpp"

namespace xpusim {

namespace {

using Json = nlohmann::json;

Json summary_json(const LatencySummary& s) {
  return {{"mean", s.mean.value()},
          {"p50", s.p50.value()},
          {"p90", s.p90.value()},
          {"p99", s.p99.value()},
          {"p50_ci95_half_width", s.p50_half_width.value()},
          {"p90_ci95_half_width", s.p90_half_width.value()},
          {"p99_ci95_half_width", s.p99_half_width.value()},
          {"percentiles", s.percentiles}};
}

std::string_view arrival_name(ArrivalKind kind) {
  switch (kind) {
    case ArrivalKind::kPoisson:
      return "poisson";
    case ArrivalKind::kClosedLoop:
      return "closed_loop";
    case ArrivalKind::kOffline:
      return "offline";
    case ArrivalKind::kTrace:
      return "trace";
  }
  return "";
}

Json workload_json(const Workload& w) {
  Json j = {{"arrival", arrival_name(w.arrival)}, {"seed", w.seed}};
  switch (w.arrival) {
    case ArrivalKind::kPoisson:
      j["rate_requests_per_s"] = w.rate_per_s;
      break;
    case ArrivalKind::kClosedLoop:
      j["concurrency"] = w.concurrency;
      break;
    case ArrivalKind::kOffline:
    case ArrivalKind::kTrace:
      break;
  }
  if (w.arrival != ArrivalKind::kTrace && w.pairs.empty()) {
    j["input_len"] = w.input.text;
    j["output_len"] = w.output.text;
  }
  if (!w.pairs.empty()) {
    j["lengths_file"] = w.pairs_source;
    j["lengths_samples"] = w.pairs.size();
  }
  if (w.min_duration_s > 0.0) j["min_duration_s"] = w.min_duration_s;
  return j;
}

/// The system, the engine and the serving features in use, one line each where present.
std::string engine_text(const ServeConfig& c, const ServeResult& r) {
  std::string out = fmt::format("system {}: {} node(s) of {} devices in use\n", r.system_id,
                                r.nodes_used, r.devices_per_node);
  if (c.stack && c.stack->serving) {
    const ServingStack& s = *c.stack->serving;
    out += fmt::format(
        "engine {} ({}): host {:.2f} ms per step, decode attention {}, max_num_seqs {}, "
        "max_num_batched_tokens {}\n",
        c.stack->id, c.stack->name, s.host_overhead_per_iteration.value() * 1e3,
        to_string(s.decode_attention), c.limits.max_num_seqs, c.limits.max_batched_tokens);
  }
  const bool split = c.scheduler == SchedulerKind::kDisaggregated;
  const int decode_ep =
      split && c.decode_expert_parallel > 0 ? c.decode_expert_parallel : c.expert_parallel;
  const int decode_tp =
      split && c.decode_tensor_parallel > 0 ? c.decode_tensor_parallel : c.tensor_parallel;
  if (c.expert_parallel > 1 || decode_ep > 1) {
    out += fmt::format(
        "expert parallelism {} with data-parallel attention: {} attention groups of tp {} per "
        "replica{}\n",
        c.expert_parallel, c.expert_parallel, c.tensor_parallel,
        split && (decode_ep != c.expert_parallel || decode_tp != c.tensor_parallel)
            ? fmt::format(" (decode pool: ep {}, tp {})", decode_ep, decode_tp)
            : std::string());
  }
  if (c.speculation.draft_tokens > 0) {
    out += fmt::format(
        "speculative decoding: {} proposals per step from {}, acceptance {:.2f}: {:.2f} tokens "
        "per step\n",
        c.speculation.draft_tokens,
        c.speculation.draft_model ? c.speculation.draft_model->id : std::string("MTP layers"),
        c.speculation.acceptance, expected_tokens_per_step(c.speculation));
  }
  if (c.prefix_cache_hit_rate > 0.0)
    out += fmt::format("prefix cache: {:.0f}% of each prompt cached\n",
                       c.prefix_cache_hit_rate * 100.0);
  return out;
}

}  // namespace

Json serve_json(const ServeConfig& c, const ServeResult& r) {
  Json timeline = Json::array();
  for (const auto& p : r.timeline) {
    timeline.push_back(
        {{"time_s", p.time_s}, {"kv_utilization", p.kv_utilization}, {"running", p.running}});
  }
  Json j = {
      {"model", c.model.id},
      {"hw", c.hw.id},
      {"devices", devices_of(c)},
      {"tp", c.tensor_parallel},
      {"pp", c.pipeline_parallel},
      {"replicas", replicas_of(c)},
      {"scheduler", to_string(c.scheduler)},
      {"load_balancer", to_string(c.load_balancer)},
      {"weight_dtype", to_string(c.weight_dtype)},
      {"kv_dtype", to_string(c.kv_dtype)},
      {"max_batch", c.limits.max_num_seqs},
      {"max_batched_tokens", c.limits.max_batched_tokens},
      {"block_size", c.limits.block_size},
      {"preemption", to_string(c.limits.preemption)},
      {"workload", workload_json(c.workload)},
      {"seed", r.seed},
      {"slo", {{"ttft_s", c.slo.ttft.value()}, {"tpot_s", c.slo.tpot.value()}}},
      {"requests", r.requests},
      {"warmup_excluded", r.warmup_excluded},
      {"cooldown_excluded", r.cooldown_excluded},
      {"interval_warning", r.interval_warning.empty() ? Json(nullptr) : Json(r.interval_warning)},
      {"completed", r.completed},
      {"dropped", r.dropped},
      {"preemptions", r.preemptions},
      {"prefill_tokens_processed", r.prefill_tokens_processed},
      {"iterations", r.iterations},
      {"prompt_tokens", r.prompt_tokens},
      {"generated_tokens", r.generated_tokens},
      {"makespan_s", r.makespan.value()},
      {"throughput_requests_per_s", r.throughput_requests_per_s},
      {"throughput_tokens_per_s", r.throughput_tokens_per_s},
      {"queueing_s", summary_json(r.queueing)},
      {"ttft_s", summary_json(r.ttft)},
      {"tpot_s", summary_json(r.tpot)},
      {"e2e_latency_s", summary_json(r.e2e)},
      {"goodput", r.goodput},
      {"goodput_requests_per_s", r.goodput_requests_per_s},
      {"kv_cache",
       {{"blocks_per_engine", r.kv_cache.blocks_per_engine},
        {"bytes_per_token_per_device", r.kv_cache.bytes_per_token_per_device.value()},
        {"free_bytes_per_device", r.kv_cache.free_per_device.value()},
        {"max_blocks_used", r.kv_blocks_max_used},
        {"utilization_mean", r.kv_utilization_mean}}},
      {"batch_size", {{"mean", r.batch_size_mean}, {"max", r.batch_size_max}}},
      {"energy_per_token_j", r.energy_per_token.value()},
      {"cost_per_million_tokens",
       r.cost_per_million_tokens_usd ? Json(*r.cost_per_million_tokens_usd) : Json(nullptr)},
      {"cost_basis", r.cost_basis.empty() ? Json(nullptr) : Json(r.cost_basis)},
      {"timeline", timeline},
  };
  j["ep"] = c.expert_parallel;
  j["system"] = r.system_id;
  j["nodes"] = r.nodes_used;
  j["stack"] = c.stack ? Json(c.stack->id) : Json(nullptr);
  j["host_overhead_per_iteration_s"] =
      c.stack && c.stack->serving ? c.stack->serving->host_overhead_per_iteration.value() : 0.0;
  if (c.speculation.draft_tokens > 0) {
    j["speculation"] = {
        {"draft_tokens", c.speculation.draft_tokens},
        {"acceptance", c.speculation.acceptance},
        {"draft", c.speculation.draft_model ? Json(c.speculation.draft_model->id) : Json("mtp")},
        {"tokens_per_step", expected_tokens_per_step(c.speculation)}};
  }
  j["prefix_cache_hit_rate"] = c.prefix_cache_hit_rate;
  if (const auto& d = r.disaggregation) {
    j["decode_tp"] = c.decode_tensor_parallel > 0 ? c.decode_tensor_parallel : c.tensor_parallel;
    j["decode_ep"] = c.decode_expert_parallel > 0 ? c.decode_expert_parallel : c.expert_parallel;
    j["prefill_replicas"] = c.prefill_replicas;
    j["decode_replicas"] = c.decode_replicas;
    j["kv_transfer_s"] = summary_json(d->transfer);
    j["kv_transfers"] = d->transfers;
    j["kv_transfer_link"] = d->scale_up ? "scale_up" : "scale_out";
    j["kv_cache"]["prefill_max_blocks_used"] = d->prefill_kv_blocks_max_used;
    j["kv_cache"]["decode_max_blocks_used"] = d->decode_kv_blocks_max_used;
  }
  return j;
}

std::string serve_text(const ServeConfig& c, const ServeResult& r) {
  std::string out = fmt::format(
      "{} on {} x {} ({} replica(s), tp {}, pp {}), {} scheduler, seed {}\n"
      "requests {} completed, {} dropped, {} preemptions, {} iterations over {:.3f} s\n"
      "throughput {:.3f} requests/s, {:.1f} generated tokens/s\n"
      "goodput {:.1f}% within TTFT {} s and TPOT {} s\n"
      "KV cache {} blocks of {} tokens per engine, at most {} used, {:.1f}% on average\n"
      "batch {:.1f} sequences on average, at most {}\n",
      c.model.id, devices_of(c), c.hw.id, replicas_of(c), c.tensor_parallel, c.pipeline_parallel,
      to_string(c.scheduler), r.seed, r.completed, r.dropped, r.preemptions, r.iterations,
      r.makespan.value(), r.throughput_requests_per_s, r.throughput_tokens_per_s, r.goodput * 100.0,
      c.slo.ttft.value(), c.slo.tpot.value(), r.kv_cache.blocks_per_engine, c.limits.block_size,
      r.kv_blocks_max_used, r.kv_utilization_mean * 100.0, r.batch_size_mean, r.batch_size_max);
  out += engine_text(c, r);
  if (r.warmup_excluded + r.cooldown_excluded > 0) {
    out += fmt::format("statistics over {} requests: {} warm-up and {} cool-down excluded\n",
                       r.requests - r.warmup_excluded - r.cooldown_excluded, r.warmup_excluded,
                       r.cooldown_excluded);
  }
  Table table({"metric (s)", "mean", "p50", "p90", "p99", "p99 95% CI"});
  auto row = [&](const char* name, const LatencySummary& s) {
    table.add_row(
        {name, fmt::format("{:.4f}", s.mean.value()), fmt::format("{:.4f}", s.p50.value()),
         fmt::format("{:.4f}", s.p90.value()), fmt::format("{:.4f}", s.p99.value()),
         s.p99_half_width.value() > 0.0 ? fmt::format("+/-{:.4f}", s.p99_half_width.value())
                                        : std::string("-")});
  };
  row("queueing", r.queueing);
  row("time to first token", r.ttft);
  row("time per output token", r.tpot);
  row("end-to-end latency", r.e2e);
  out += table.to_text();
  if (!r.interval_warning.empty()) out += "warning: " + r.interval_warning + "\n";
  if (const auto& d = r.disaggregation) {
    out += fmt::format(
        "{} prefill and {} decode replica(s); {} KV-cache hand-offs over the {} link, {:.4f} s "
        "on average, p99 {:.4f} s\n",
        c.prefill_replicas, c.decode_replicas, d->transfers, d->scale_up ? "scale-up" : "scale-out",
        d->transfer.mean.value(), d->transfer.p99.value());
  }
  out += fmt::format("energy {:.3f} J per generated token\n", r.energy_per_token.value());
  if (r.cost_per_million_tokens_usd) {
    out += fmt::format("cost {:.3f} USD per million generated tokens ({})\n",
                       *r.cost_per_million_tokens_usd, r.cost_basis);
  }
  return out;
}

Json serve_trace(const ServeConfig& c, const ServeResult& r) {
  Json events = Json::array();
  const bool disaggregated = c.scheduler == SchedulerKind::kDisaggregated;
  for (int replica = 0; replica < replicas_of(c); ++replica) {
    const char* role = !disaggregated                 ? ""
                       : replica < c.prefill_replicas ? " (prefill)"
                                                      : " (decode)";
    events.push_back({{"name", "process_name"},
                      {"ph", "M"},
                      {"pid", replica},
                      {"args", {{"name", fmt::format("replica {}{}", replica, role)}}}});
  }
  for (const auto& it : r.iteration_log) {
    const char* name = it.prefill_sequences == 0  ? "decode"
                       : it.decode_sequences == 0 ? "prefill"
                                                  : "mixed";
    events.push_back({{"name", name},
                      {"ph", "X"},
                      {"ts", it.start_s * 1e6},
                      {"dur", it.duration_s * 1e6},
                      {"pid", it.replica},
                      {"tid", it.engine},
                      {"args",
                       {{"prefill_sequences", it.prefill_sequences},
                        {"decode_sequences", it.decode_sequences},
                        {"new_tokens", it.new_tokens},
                        {"kv_blocks_used", it.kv_blocks_used}}}});
  }
  return {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
}

nlohmann::json max_rate_json(const ServeConfig& config, const MaxRateResult& found) {
  nlohmann::json j = serve_json(config, found.at_max);
  j["slo_met"] = found.met;
  j["max_rate_requests_per_s"] =
      found.met ? nlohmann::json(found.max_rate_requests_per_s) : nlohmann::json(nullptr);
  j["slo_ttft_p99_s"] = config.slo.ttft.value();
  j["slo_tpot_p99_s"] = config.slo.tpot.value();
  j["probes"] = found.probes;
  if (!found.met) j["closest_rate_requests_per_s"] = found.lowest_rate_probed;
  return j;
}

std::string max_rate_text(const ServeConfig& config, const MaxRateResult& found) {
  const ServeResult& r = found.at_max;
  std::string head;
  if (found.met) {
    head = fmt::format(
        "Highest sustainable rate: {:.3f} requests/s (p99 TTFT {:.3f} s <= {:g} s, p99 TPOT "
        "{:.1f} ms <= {:g} ms; {} simulations)\n\n",
        found.max_rate_requests_per_s, r.ttft.p99.value(), config.slo.ttft.value(),
        r.tpot.p99.value() * 1e3, config.slo.tpot.value() * 1e3, found.probes);
  } else {
    head = fmt::format(
        "No rate meets the objectives (p99 TTFT <= {:g} s, p99 TPOT <= {:g} ms). Closest: at "
        "{:.4f} requests/s, p99 TTFT {:.3f} s and p99 TPOT {:.1f} ms{}.\n\n",
        config.slo.ttft.value(), config.slo.tpot.value() * 1e3, found.lowest_rate_probed,
        r.ttft.p99.value(), r.tpot.p99.value() * 1e3,
        r.dropped > 0 ? fmt::format(", {} requests dropped", r.dropped) : std::string());
  }
  return head + serve_text(config, r);
}

nlohmann::json mlperf_json(const ServeConfig& config, const MlperfRun& run) {
  nlohmann::json j = serve_json(config, run.result);
  nlohmann::json m = {{"scenario", to_string(run.scenario)},
                      {"benchmark", run.benchmark},
                      {"samples_issued", run.samples_issued},
                      {"samples_per_s", run.samples_per_s},
                      {"tokens_per_s", run.tokens_per_s},
                      {"target_qps", run.target_qps},
                      {"output_scale", run.lengths.output_scale},
                      {"mean_output_tokens", run.lengths.mean_output_tokens},
                      {"min_duration_met", run.min_duration_met},
                      {"latency_met", run.latency_met}};
  if (run.limits) {
    m["ttft_p99_limit_s"] = run.limits->ttft_p99.value();
    m["tpot_p99_limit_s"] = run.limits->tpot_p99.value();
  }
  if (run.search) m["probes"] = run.search->probes;
  j["mlperf"] = m;
  return j;
}

std::string mlperf_text(const ServeConfig& config, const MlperfRun& run) {
  std::string head = fmt::format(
      "MLPerf {} {}: {} samples issued, {:.2f} samples/s, {:.1f} tokens/s\n"
      "output lengths x {:.4f} (mean {:.2f} tokens); min duration {}\n",
      run.benchmark, to_string(run.scenario), run.samples_issued, run.samples_per_s,
      run.tokens_per_s, run.lengths.output_scale, run.lengths.mean_output_tokens,
      run.min_duration_met ? "met" : "NOT met");
  if (run.limits) {
    head += fmt::format(
        "target {:.3f} queries/s{}: p99 TTFT {:.3f} s (limit {:g}), p99 TPOT {:.1f} ms (limit "
        "{:g}): {}\n",
        run.target_qps,
        run.search ? fmt::format(" (highest within the limits, {} simulations)", run.search->probes)
                   : std::string(),
        run.result.ttft.p99.value(), run.limits->ttft_p99.value(),
        run.result.tpot.p99.value() * 1e3, run.limits->tpot_p99.value() * 1e3,
        run.latency_met ? "VALID" : "INVALID");
  } else {
    head += fmt::format("offline_expected_qps {:.3f}\n", run.target_qps);
  }
  return head + "\n" + serve_text(config, run.result);
}

namespace {

std::string replicas_text(const PlanCandidate& c) {
  if (!c.disaggregated) return fmt::format("{} replicas", c.replicas);
  return fmt::format("{} prefill + {} decode replicas", c.prefill_replicas, c.decode_replicas);
}

nlohmann::json candidate_json(const PlanRequest& request, const PlanCandidate& c) {
  nlohmann::json j = {
      {"hw", c.hw->id},           {"tp", c.tensor_parallel},          {"ep", c.expert_parallel},
      {"max_batch", c.max_batch}, {"disaggregated", c.disaggregated}, {"replicas", c.replicas},
      {"devices", c.devices()},   {"simulated", c.simulated},         {"meets_slo", c.meets},
      {"pareto", c.pareto}};
  if (c.disaggregated) {
    j["prefill_replicas"] = c.prefill_replicas;
    j["decode_replicas"] = c.decode_replicas;
  }
  if (c.per_replica_max_rate > 0)
    j["bound_max_rate_per_replica_requests_per_s"] = c.per_replica_max_rate;
  if (c.bound_usd_per_hour) j["bound_usd_per_hour"] = *c.bound_usd_per_hour;
  if (c.meets) {
    j["ttft_p99_s"] = c.at_rate.ttft.p99.value();
    j["tpot_p99_s"] = c.at_rate.tpot.p99.value();
    j["throughput_tokens_per_s"] = c.at_rate.throughput_tokens_per_s;
  }
  if (c.usd_per_hour) {
    j["usd_per_hour"] = *c.usd_per_hour;
    j["cost_basis"] = c.cost_basis;
    const double tokens_per_hour = c.at_rate.throughput_tokens_per_s * kSecondsPerHour;
    if (tokens_per_hour > 0)
      j["cost_per_million_tokens_usd"] = *c.usd_per_hour / tokens_per_hour * 1e6;
  }
  if (!c.reason.empty()) j["reason"] = c.reason;
  (void)request;
  return j;
}

}  // namespace

nlohmann::json plan_json(const PlanRequest& request, const PlanResult& result) {
  nlohmann::json all = nlohmann::json::array();
  for (const auto& c : result.candidates) all.push_back(candidate_json(request, c));
  nlohmann::json j = {{"model", request.base.model.id},
                      {"rate_requests_per_s", request.rate_requests_per_s},
                      {"slo_ttft_p99_s", request.base.slo.ttft.value()},
                      {"slo_tpot_p99_s", request.base.slo.tpot.value()},
                      {"simulations", result.simulations},
                      {"pruned", result.pruned},
                      {"candidates", all}};
  const bool found = !result.candidates.empty() && result.candidates.front().meets &&
                     result.candidates.front().usd_per_hour.has_value();
  j["cheapest"] =
      found ? candidate_json(request, result.candidates.front()) : nlohmann::json(nullptr);
  return j;
}

std::string plan_text(const PlanRequest& request, const PlanResult& result) {
  const ServeConfig& b = request.base;
  std::string out = fmt::format(
      "{} at {:g} requests/s (input {}, output {}), {} scheduler, objectives p99 TTFT <= {:g} s "
      "and "
      "p99 TPOT <= {:g} ms; {} candidate deployments, {} ruled out by the analytical bound, {} "
      "simulations.\n",
      b.model.id, request.rate_requests_per_s, b.workload.input.text, b.workload.output.text,
      to_string(b.scheduler), b.slo.ttft.value(), b.slo.tpot.value() * 1e3,
      result.candidates.size(), result.pruned, result.simulations);
  int meeting = 0;
  for (const auto& c : result.candidates) meeting += c.meets ? 1 : 0;
  const PlanCandidate& best = result.candidates.front();
  if (meeting == 0 || !best.meets || !best.usd_per_hour) {
    return out +
           "No priced deployment meets the objectives at this rate (--format json gives each "
           "candidate's reason).\n";
  }
  out += fmt::format(
      "Cheapest: {} of {} x {} (tp {}, ep {}, max batch {}), {} devices, "
      "${:.2f}/hour ({} price).\n\n",
      replicas_text(best), best.tensor_parallel * best.expert_parallel, best.hw->id,
      best.tensor_parallel, best.expert_parallel, best.max_batch, best.devices(),
      *best.usd_per_hour, best.cost_basis);
  out += "Pareto front of cost against p99 time per output token:\n";
  Table table({"hw", "tp", "ep", "max batch", "replicas", "devices", "$/hour", "$/M tokens",
               "price", "p99 TTFT s", "p99 TPOT ms"});
  for (const auto& c : result.candidates) {
    if (!c.pareto) continue;
    const double tokens_per_hour = c.at_rate.throughput_tokens_per_s * kSecondsPerHour;
    table.add_row({c.hw->id, std::to_string(c.tensor_parallel), std::to_string(c.expert_parallel),
                   std::to_string(c.max_batch),
                   c.disaggregated ? fmt::format("{}P+{}D", c.prefill_replicas, c.decode_replicas)
                                   : std::to_string(c.replicas),
                   std::to_string(c.devices()), fmt::format("{:.2f}", *c.usd_per_hour),
                   tokens_per_hour > 0
                       ? fmt::format("{:.3f}", *c.usd_per_hour / tokens_per_hour * 1e6)
                       : "n/a",
                   c.cost_basis, fmt::format("{:.3f}", c.at_rate.ttft.p99.value()),
                   fmt::format("{:.1f}", c.at_rate.tpot.p99.value() * 1e3)});
  }
  out += table.to_text();
  out += fmt::format(
      "\n{} simulated deployments meet the objectives; the other {} cannot fit, miss them, have "
      "no price, or cost more by the bound than {:g} x the cheapest. --format json lists every "
      "candidate with its reason; --price-basis cloud|owned compares on one kind of price.\n",
      meeting, static_cast<int>(result.candidates.size()) - meeting, request.prune_factor);
  return out;
}

}  // namespace xpusim
